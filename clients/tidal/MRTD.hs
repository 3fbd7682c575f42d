{-
MRTD: play mrtd (a Magenta RealTime daemon) from TidalCycles 1.7.

Patterns go to mrtd as timetagged named-argument events on /mrt/event: Tidal
sends each event's bundle `oLatency` seconds early, stamped with the time it
should sound, and mrtd applies it at the frame heard at that time. Tidal adds
cps, cycle and delta to every event; mrtd takes cps as its tempo (cps * 240
BPM) and delta as a note's length.

    mrt <- startMRTD "127.0.0.1" 7400
    let m1 = streamReplace mrt 1
    mrtdPrompt "127.0.0.1" 7400 "dark" "dark ambient drone"
    m1 $ note "0 4 7" # velocity 0.8 # prompt "dark" # weight (slow 4 sine)

Params for /mrt/event (any mrtd parameter): prompt + weight, temperature,
topk, seed, cfgStyle, cfgNotes, cfgDrums, drums, volume, muted, bypass,
unmask, onsetMode, midigate, tempo, cue; notes with Tidal's own `note` (or
`n`) and `velocity`. Everything else (defining prompts, status) is a plain
message: see the IO helpers at the bottom.
-}
module MRTD where

import Control.Exception (bracket)
import Data.List (intercalate)
import qualified Sound.OSC.FD as O
import Sound.Tidal.Context
import System.Timeout (timeout)

-- | mrtd's OSC port, on this machine by default.
mrtdTarget :: Target
mrtdTarget =
  Target
    { oName = "mrtd",
      oAddress = "127.0.0.1",
      oPort = 7400,
      oBusPort = Nothing,
      oLatency = 0.2, -- seconds early: bundles carry their time, so jitter on the way does not matter
      oWindow = Nothing,
      oSchedule = Pre BundleStamp, -- timetagged bundles
      oHandshake = False
    }

-- | Every event becomes one /mrt/event message of name/value pairs (no argument is required).
mrtdShape :: OSC
mrtdShape = OSC "/mrt/event" (Named {requiredArgs = []})

-- | A Tidal stream whose patterns play mrtd at host:port.
startMRTD :: String -> Int -> IO Stream
startMRTD host port =
  startStream defaultConfig {cCtrlListen = False} [(mrtdTarget {oAddress = host, oPort = port}, [mrtdShape])]

-- * Params: the names mrtd's /mrt/event understands

-- | Which prompt `weight` moves: prompt "dark" # weight 0.7
prompt :: Pattern String -> ControlPattern
prompt = pS "prompt"

weight :: Pattern Double -> ControlPattern
weight = pF "weight"

temperature, cfgStyle, cfgNotes, cfgDrums, volume, tempo :: Pattern Double -> ControlPattern
temperature = pF "temperature"
cfgStyle = pF "cfg_style"
cfgNotes = pF "cfg_notes"
cfgDrums = pF "cfg_drums"
volume = pF "volume" -- dB, -60..12
tempo = pF "tempo" -- BPM; note that Tidal's cps also sets it, on every event

topk, seed, drums, unmask, onsetMode, midigate, bypass, muted :: Pattern Int -> ControlPattern
topk = pI "top_k"
seed = pI "seed"
drums = pI "drums" -- -1 model decides, 0 no drums, 1 drums
unmask = pI "unmask"
onsetMode = pI "onset_mode"
midigate = pI "midigate"
bypass = pI "bypass"
muted = pI "mute" -- `mute` is taken by Tidal's playstate

-- | Go to a cue of the loaded scene, on the grid: cue "<verse chorus>"
cue :: Pattern String -> ControlPattern
cue = pS "cue"

-- * Plain messages (not patterns): prompts, mixes and replies

-- | Send one message to mrtd at host:port, now.
mrtdSend :: String -> Int -> String -> [O.Datum] -> IO ()
mrtdSend host port address args =
  bracket (O.openUDP host port) O.close $ \udp -> O.sendMessage udp (O.message address args)

-- | Define (or replace) a prompt: mrtdPrompt "127.0.0.1" 7400 "dark" "dark ambient drone"
mrtdPrompt :: String -> Int -> String -> String -> IO ()
mrtdPrompt host port name text = mrtdSend host port "/mrt/prompt" [O.string name, O.string text]

-- | Set the whole mix, crossfading over `fade` seconds: mrtdMix h p [("dark", 0.3), ("bright", 0.7)] 4
mrtdMix :: String -> Int -> [(String, Double)] -> Double -> IO ()
mrtdMix host port weights fade =
  mrtdSend host port "/mrt/mix" (concat [[O.string name, O.float w] | (name, w) <- weights] ++ [O.float fade])

-- | Send a request and wait (up to `seconds`) for the reply at `replyAddress`.
mrtdRequest :: String -> Int -> Double -> String -> [O.Datum] -> String -> IO (Maybe [O.Datum])
mrtdRequest host port seconds address args replyAddress =
  bracket (O.openUDP host port) O.close $ \udp -> do
    O.sendMessage udp (O.message address args)
    let await = do
          reply <- O.recvMessage udp
          case reply of
            Just m | O.messageAddress m == replyAddress -> return (O.messageDatum m)
            _ -> await -- an error or a push: keep waiting for ours
    timeout (round (seconds * 1e6)) await

-- | mrtd's status as (key, value) pairs, or Nothing if it did not answer within 2 s.
mrtdStatus :: String -> Int -> IO (Maybe [(String, String)])
mrtdStatus host port = fmap pairs <$> mrtdRequest host port 2 "/mrt/status" [] "/mrt/status"
  where
    pairs (k : v : rest) = (showDatum k, showDatum v) : pairs rest
    pairs _ = []

-- | Round trip: Just the pong's arguments.
mrtdPing :: String -> Int -> [O.Datum] -> IO (Maybe [O.Datum])
mrtdPing host port args = mrtdRequest host port 2 "/mrt/ping" args "/mrt/pong"

showDatum :: O.Datum -> String
showDatum (O.ASCII_String s) = O.ascii_to_string s
showDatum (O.Int32 i) = show i
showDatum (O.Int64 i) = show i
showDatum (O.Float f) = show f
showDatum (O.Double d) = show d
showDatum d = show d

showStatus :: [(String, String)] -> String
showStatus = intercalate "\n" . map (\(k, v) -> k ++ ": " ++ v)
