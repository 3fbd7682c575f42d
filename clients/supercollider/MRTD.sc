// MRTD: play mrtd (a Magenta RealTime daemon) from SuperCollider over OSC.
//
// One method per address of the daemon's OSC table (docs/osc.md). Musical
// controls (prompts, mix, notes, parameters, cues...) go out as timetagged
// bundles `latency` seconds ahead of the caller's logical time, so inside a
// Routine or Pattern they land on the beat, like server messages do. Set
// `latency = nil` to send plain messages, applied at the daemon's next frame.
//
// Replies (status, pong, errors, state pushes) arrive through OSCFuncs:
//   m.status { |ev| ev.frames.postln }   // the status as an Event (also kept in m.lastStatus)
//   m.state                               // last known state, by address ('/mrt/temperature' -> [0.9])
//
// As root (a container, many Pi images) sclang aborts before this file is compiled unless it is
// started with QTWEBENGINE_DISABLE_SANDBOX=1 in its environment: no class can set it in time.

MRTD {
	classvar <pushAddresses;

	var <netAddr, <>latency;
	var <lastStatus, <state;             // Event of the last /mrt/status; Event address -> args
	var <proven = false;                 // the daemon has seen this address answer its cookie
	var <>onStatus, <>onState, <>onError, <>onPong;
	var statusActions, pongActions, responders, renewal;

	*initClass {
		// What the daemon pushes to subscribers and answers to /mrt/sync.
		pushAddresses = #[
			'/mrt/temperature', '/mrt/topk', '/mrt/seed', '/mrt/cfg/style', '/mrt/cfg/notes', '/mrt/cfg/drums',
			'/mrt/drums', '/mrt/volume', '/mrt/mute', '/mrt/bypass', '/mrt/unmask', '/mrt/onset_mode',
			'/mrt/midigate', '/mrt/tempo', '/mrt/meter', '/mrt/notes', '/mrt/mix', '/mrt/prompts', '/mrt/xy',
			'/mrt/beat', '/mrt/scene', '/mrt/cue', '/mrt/style/source'
		];
	}

	*new { |host = "127.0.0.1", port = 7400, latency = 0.2|
		^super.new.init(host, port, latency)
	}

	init { |host, port, argLatency|
		var fromDaemon;
		netAddr = NetAddr(host, port);
		latency = argLatency;
		lastStatus = ();
		state = ();
		statusActions = List[];
		pongActions = List[];
		onError = { |address, reason| "mrtd: % refused: %".format(address, reason).warn };
		// Replies come from the daemon's port, pushes from another of its sockets: match the host only.
		fromDaemon = NetAddr(netAddr.ip, nil);
		responders = [
			OSCFunc({ |msg|
				lastStatus = Event.newFrom(msg[1..]);
				onStatus.value(lastStatus);
				statusActions.copy.do { |action| action.value(lastStatus) };
				statusActions.clear;
			}, '/mrt/status', fromDaemon),
			OSCFunc({ |msg|
				var args = msg[1..];
				onPong.value(args);
				pongActions.copy.do { |action| action.value(args) };
				pongActions.clear;
			}, '/mrt/pong', fromDaemon),
			OSCFunc({ |msg| onError.value(msg[1], msg[2]) }, '/mrt/error', fromDaemon),
			// /mrt/hello: the daemon's cookie for this address, sent back to prove we receive here
			// (off loopback an unproven address gets only a small reply budget).
			OSCFunc({ |msg| netAddr.sendMsg('/mrt/hello', msg[1]) }, '/mrt/hello', fromDaemon),
			// The daemon forgets a proof after 10 minutes (an address can pass to someone else):
			// say hello again after 5, while this client lives, so pushes and status never pause.
			OSCFunc({
				proven = true;
				renewal !? { renewal.stop };
				renewal = Routine({ 300.wait; if(responders.notEmpty) { this.hello } }).play(SystemClock);
			}, '/mrt/hello/ok', fromDaemon)
		] ++ pushAddresses.collect { |address|
			OSCFunc({ |msg|
				state[address] = msg[1..];
				onState.value(address, msg[1..]);
			}, address, fromDaemon)
		};
	}

	free {
		renewal !? { renewal.stop };
		responders.do(_.free);
		responders = [];
	}

	// -- sending ------------------------------------------------------------

	// A plain message, applied at the daemon's next frame.
	send { |address ... args|
		netAddr.sendMsg(address, *args);
	}

	// A bundle heard `latency` seconds after this thread's logical time (or plain when latency is nil).
	sendTimed { |address ... args|
		if(latency.isNil) {
			netAddr.sendMsg(address, *args)
		} {
			netAddr.sendBundle(latency, [address] ++ args)
		}
	}

	// -- prompts and the mix ------------------------------------------------------

	prompt { |name, text, weight|
		this.sendTimed('/mrt/prompt', *([name, text] ++ weight.notNil.if({ [weight.asFloat] }, { [] })))
	}
	promptClear { |name| this.sendTimed('/mrt/prompt/clear', name) }

	// pairs: [\dark, 0.7, \bright, 0.3] or (dark: 0.7, bright: 0.3); fade in seconds; curve:
	// "linear", "equal-power", "exponential" or "s-curve".
	mix { |pairs, fade, curve|   // fade: seconds, or "4 bars"
		var args = (pairs.isKindOf(Dictionary).if({ pairs.getPairs }, { pairs }))
			.clump(2).collect { |pair| [pair[0], pair[1].asFloat] }.flatten;
		if(fade.notNil) { args = args ++ [fade.isString.if({ fade }, { fade.asFloat })] ++ (curve.notNil.if({ [curve.asString] }, { [] })) };
		this.sendTimed('/mrt/mix', *args)
	}
	weight { |name, weight| this.sendTimed('/mrt/weight', name, weight.asFloat) }
	axis { |index, value| this.sendTimed('/mrt/axis', index, value.asFloat) }
	xy { |x, y| this.sendTimed('/mrt/xy', x.asFloat, y.asFloat) }
	styleTokens { |tokens| this.sendTimed('/mrt/style/tokens', *(tokens ? []).collect(_.asInteger)) }
	styleEmbedding { |floats| this.sendTimed('/mrt/style/embedding', *(floats ? []).collect(_.asFloat)) }

	// -- sampling and guidance ----------------------------------------------------

	temperature { |value| this.sendTimed('/mrt/temperature', value.asFloat) }
	topk { |value| this.sendTimed('/mrt/topk', value.asInteger) }
	seed { |value| this.sendTimed('/mrt/seed', value.asInteger) }
	cfgStyle { |value| this.sendTimed('/mrt/cfg/style', value.asFloat) }
	cfgNotes { |value| this.sendTimed('/mrt/cfg/notes', value.asFloat) }
	cfgDrums { |value| this.sendTimed('/mrt/cfg/drums', value.asFloat) }

	// -- notes and drums ----------------------------------------------------------

	noteOn { |pitch, velocity = 100| this.sendTimed('/mrt/note/on', pitch.asInteger, velocity.asInteger) }
	noteOff { |pitch| this.sendTimed('/mrt/note/off', pitch.asInteger) }
	notesClear { this.sendTimed('/mrt/notes/clear') }
	unmask { |width| this.sendTimed('/mrt/unmask', width.asInteger) }
	onsetMode { |mode| this.sendTimed('/mrt/onset_mode', mode.asInteger) }
	midigate { |on = 1| this.sendTimed('/mrt/midigate', on.asInteger) }
	drums { |mode| this.sendTimed('/mrt/drums', mode.asInteger) }   // -1 model decides, 0 none, 1 drums

	// -- output and state ---------------------------------------------------------

	volume { |db| this.sendTimed('/mrt/volume', db.asFloat) }
	mute { |on = 1| this.sendTimed('/mrt/mute', on.asInteger) }
	bypass { |on = 1| this.sendTimed('/mrt/bypass', on.asInteger) }
	reset { this.sendTimed('/mrt/reset') }

	// -- scenes and clock -------------------------------------------------------------

	sceneLoad { |name| this.sendTimed('/mrt/scene/load', name.asString) }
	cue { |name, when| this.sendTimed('/mrt/cue', *([name] ++ when.notNil.if({ [when.asString] }, { [] }))) }  // when: "bar", "2 bars"
	cueNext { this.sendTimed('/mrt/cue/next') }
	tempo { |bpm, meter| this.sendTimed('/mrt/tempo', *([bpm.asFloat] ++ meter.notNil.if({ [meter.asInteger] }, { [] }))) }
	meter { |beats| this.sendTimed('/mrt/meter', beats.asInteger) }
	// Do a command on the daemon's grid: m.at("bar", '/mrt/cue/next')
	at { |when, address ... args| this.sendTimed('/mrt/at', when.asString, address, *args) }
	// MIDI learn: the next control moved maps to this target (kind: \param, \axis, \weight, \cue, \toggle)
	learn { |name, kind| this.send('/mrt/learn', *(kind.notNil.if({ [kind] }, { [] }) ++ [name])) }

	// Named arguments, as TidalCycles sends them: m.event(\note, 0, \velocity, 0.8, \delta, 0.5)
	event { |... pairs| this.sendTimed('/mrt/event', *pairs) }

	// -- replies and recording (plain messages: they are about now) --------------------

	status { |action|
		if(action.notNil) { statusActions.add(action) };
		this.send('/mrt/status')
	}
	hello { this.send('/mrt/hello', 0) }     // prove this address; `subscribe` and `sync` do it first
	sync { if(proven.not) { this.hello }; this.send('/mrt/sync') }       // fills `state`, one reply per address
	ping { |args, action|
		if(action.notNil) { pongActions.add(action) };
		this.send('/mrt/ping', *(args ? []))
	}
	subscribe { |port| if(proven.not) { this.hello }; this.send('/mrt/subscribe', *(port.notNil.if({ [port.asInteger] }, { [] }))) }
	unsubscribe { |port| this.send('/mrt/unsubscribe', *(port.notNil.if({ [port.asInteger] }, { [] }))) }
	recordStart { |name| this.send('/mrt/record/start', *(name.notNil.if({ [name.asString] }, { [] }))) }
	recordStop { this.send('/mrt/record/stop') }
	prefill { |audioName| this.send('/mrt/prefill', *(audioName.notNil.if({ [audioName.asString] }, { [] }))) }   // mrt2: context from audio (or silence)
	model { |name| this.send('/mrt/model', name.asString) }   // mrt2: load another model and crossfade to it
}
