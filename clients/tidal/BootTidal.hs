-- mrtd in BootTidal.hs, for Tidal 1.7: a whole boot file (SuperDirt's d1..d12 and mrtd's m1..m4).
-- Load it in GHCi with `:script /path/to/mrtd/clients/tidal/BootTidal.hs` (or point your
-- editor's Tidal boot file at it). MRTD.hs is found through $MRTD_TIDAL (the folder holding
-- it), else ./clients/tidal from where GHCi was started.
--
-- Why this order: GHCi forgets every `let` and `<-` binding when it loads a module, so
-- MRTD.hs is loaded first and Tidal's own bindings (d1 ...) are made after it. Adding
-- `:load MRTD` at the end of another boot file loses its d1.
:set -XOverloadedStrings
:set prompt "tidal> "
:def mrtdPath (\_ -> fmap (\dir -> ":set -i" ++ maybe "clients/tidal" id dir) (System.Environment.lookupEnv "MRTD_TIDAL"))
:mrtdPath
:load MRTD
import Sound.Tidal.Context
import System.IO (hSetEncoding, stdout, utf8)
hSetEncoding stdout utf8

tidal <- startTidal (superdirtTarget {oLatency = 0.1, oAddress = "127.0.0.1", oPort = 57120}) (defaultConfig {cVerbose = True, cFrameTimespan = 1/20})
:{
let p = streamReplace tidal
    hush = streamHush tidal
    once = streamOnce tidal
    setcps = once . cps
    d1 = p 1 . (|< orbit 0)
    d2 = p 2 . (|< orbit 1)
    d3 = p 3 . (|< orbit 2)
    d4 = p 4 . (|< orbit 3)
    d5 = p 5 . (|< orbit 4)
    d6 = p 6 . (|< orbit 5)
    d7 = p 7 . (|< orbit 6)
    d8 = p 8 . (|< orbit 7)
    d9 = p 9 . (|< orbit 8)
    d10 = p 10 . (|< orbit 9)
    d11 = p 11 . (|< orbit 10)
    d12 = p 12 . (|< orbit 11)
:}

mrt <- startMRTD "127.0.0.1" 7400
:{
let m1 = streamReplace mrt 1
    m2 = streamReplace mrt 2
    m3 = streamReplace mrt 3
    m4 = streamReplace mrt 4
    monce = streamOnce mrt
    mhush = streamHush mrt
    mprompt = mrtdPrompt "127.0.0.1" 7400
    mmix = mrtdMix "127.0.0.1" 7400
    mstatus = mrtdStatus "127.0.0.1" 7400 >>= putStrLn . maybe "mrtd did not answer" showStatus
:}
