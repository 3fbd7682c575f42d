-- mrtd in BootTidal.hs, for Tidal 1.7: a whole boot file (SuperDirt's d1..d12 and mrtd's m1..m4).
-- Start GHCi with it the way editors do, from any folder:
--     ghci -ghci-script /path/to/mrtd/clients/tidal/BootTidal.hs
-- or load it in a running GHCi with `:script /path/to/mrtd/clients/tidal/BootTidal.hs`.
--
-- A GHCi script cannot ask for its own path, so MRTD.hs (beside this file) is looked for in
-- order: $MRTD_TIDAL (the folder holding it); the folder of the `-ghci-script` this GHCi was
-- started with (read from /proc/self/cmdline, or `ps` where there is no /proc); ./clients/tidal
-- (GHCi started in the clone). Not found: one line says what to set, before and after the
-- errors that follow. `:script` from another folder needs MRTD_TIDAL.
--
-- Why this order: GHCi forgets every `let` and `<-` binding when it loads a module, so
-- MRTD.hs is loaded first and Tidal's own bindings (d1 ...) are made after it. Adding
-- `:load MRTD` at the end of another boot file loses its d1.
:set -XOverloadedStrings
:set prompt "tidal> "
:{
:def mrtdLoad (\again -> do
  let holds dir = System.Directory.doesFileExist (dir ++ "/MRTD.hs")
      attempt io = either (const []) id <$> (Control.Exception.try io :: IO (Either Control.Exception.SomeException [String]))
      scripts (flag : path : rest) | flag == "-ghci-script" = path : scripts rest
      scripts (arg : rest) = [drop 13 arg | Data.List.isPrefixOf "-ghci-script=" arg] ++ scripts rest
      scripts [] = []
      folder path = let dir = reverse (dropWhile (/= '/') (reverse path)) in if null dir then "." else dir
      nul c = c == '\0'
      splitOn p text = case break p text of (word, []) -> [word]; (word, _ : rest) -> word : splitOn p rest
  fromProc <- attempt (splitOn nul <$> readFile "/proc/self/cmdline")
  fromPs <- if null fromProc then attempt (do pid <- System.Posix.Process.getProcessID; words <$> System.Process.readProcess "ps" ["-ww", "-o", "args=", "-p", show pid] "") else return []
  fromEnv <- maybe [] (: []) <$> System.Environment.lookupEnv "MRTD_TIDAL"
  let candidates = fromEnv ++ map folder (scripts (fromProc ++ fromPs)) ++ ["clients/tidal"]
  found <- filter snd . zip candidates <$> mapM holds candidates
  case found of
    (dir, _) : _ | null again -> return (":set " ++ show ("-i" ++ dir) ++ "\n:load MRTD")
                 | otherwise -> return "putStrLn (\"mrtd: m1..m4 play mrtd at \" ++ mrtdHost ++ \":\" ++ show mrtdPort ++ \" (mstatus asks it how it is); d1..d12 play SuperDirt at 127.0.0.1:57120.\")"
    [] -> do
      System.IO.hPutStrLn System.IO.stderr ("mrtd: MRTD.hs not found" ++ maybe "" (\dir -> " in MRTD_TIDAL=" ++ dir) (Data.Maybe.listToMaybe fromEnv) ++ ". Set MRTD_TIDAL to the folder that holds it (export MRTD_TIDAL=/path/to/mrtd/clients/tidal) and start GHCi again; m1..m4, mprompt and mstatus come from it.")
      return "")
:}
:mrtdLoad
import Sound.Tidal.Context
import System.IO (hSetEncoding, stdout, utf8)
hSetEncoding stdout utf8

-- Quiet (cVerbose = False): Tidal's verbose stream prints "Waiting for SuperDirt" every boot that
-- has no SuperDirt running, which is most mrtd boots; the line below says where d1 and m1 go.
tidal <- startTidal (superdirtTarget {oLatency = 0.1, oAddress = "127.0.0.1", oPort = 57120}) (defaultConfig {cVerbose = False, cFrameTimespan = 1/20})
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

-- mrtd's address: MRTD_HOST and MRTD_PORT where mrtd runs elsewhere (`mrtd run --osc-port N`).
mrtdHost <- maybe "127.0.0.1" id <$> System.Environment.lookupEnv "MRTD_HOST"
mrtdPort <- maybe 7400 read <$> System.Environment.lookupEnv "MRTD_PORT" :: IO Int
mrt <- startMRTD mrtdHost mrtdPort
:{
let m1 = streamReplace mrt 1
    m2 = streamReplace mrt 2
    m3 = streamReplace mrt 3
    m4 = streamReplace mrt 4
    monce = streamOnce mrt
    mhush = streamHush mrt
    mprompt = mrtdPrompt mrtdHost mrtdPort
    mmix = mrtdMix mrtdHost mrtdPort
    mstatus = mrtdStatus mrtdHost mrtdPort >>= putStrLn . maybe "mrtd did not answer" showStatus
:}
:mrtdLoad again
