// Play a Strudel pattern on mrtd: `node --import ./esm-entry.mjs play.mjs` (or `npm run play`).
// Each hap becomes the message @strudel/osc builds (parseControlsFromHap: cps, cycle, delta and the
// hap's controls) in a bundle stamped with the hap's time, sent the way @strudel/osc's bridge
// (server.js) sends it: osc.js's UDPPort, timeTag(0, milliseconds). Here the bridge's UDP side runs
// in this process and sends straight to mrtd instead of to SuperDirt on 57120.
import { note, s, stack } from '@strudel/core';
import { miniAllStrings } from '@strudel/mini';
import { parseControlsFromHap } from '@strudel/osc';
import osc from 'osc';

miniAllStrings(); // strings in patterns are mini-notation, as in the Strudel REPL

const host = process.env.MRTD_HOST || '127.0.0.1';
const port = Number(process.env.MRTD_PORT || 7400);
const cycles = Number(process.env.MRTD_CYCLES || Infinity); // stop after this many cycles
const cps = 0.5;
const latency = 0.2; // seconds ahead, as Tidal and Strudel schedule
const tick = 0.05;

// The pattern: notes with half-length (clip, Strudel's legato), and a parameter as a sound.
const pattern = stack(
  note('c4 e4 g4 <b4 d5>').s('mrt').clip(0.5),
  s('temperature').n('<1.3 2.1>'),
);

const udp = new osc.UDPPort({ localAddress: '127.0.0.1', localPort: 0, remoteAddress: host, remotePort: port });
udp.on('error', (e) => console.error('[osc]', e.message));
udp.on('ready', () => {
  const origin = Date.now() / 1000 + latency + 0.1; // wall time of cycle 0
  let queried = 0; // cycles already sent
  const timer = setInterval(() => {
    const now = Date.now() / 1000;
    const until = Math.min(cycles, (now + latency + tick - origin) * cps);
    if (until > queried) {
      for (const hap of pattern.queryArc(queried, until)) {
        if (!hap.hasOnset()) continue;
        const controls = parseControlsFromHap(hap, cps);
        const at = origin + hap.whole.begin.valueOf() / cps; // when it should sound
        const packet = { timeTag: osc.timeTag(0, at * 1000), packets: [{ address: '/dirt/play', args: Object.entries(controls).flat() }] };
        udp.send(packet);
        console.log('SENT ' + JSON.stringify({ at, controls }));
      }
      queried = until;
    }
    if (queried >= cycles) {
      clearInterval(timer);
      setTimeout(() => { console.log('DONE'); udp.close(); }, 100);
    }
  }, tick * 1000);
});
udp.open();
