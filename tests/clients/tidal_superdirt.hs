{-# LANGUAGE OverloadedStrings #-}
-- Driven by tests/test_clients_tidal_superdirt.py: plain Tidal 1.7 with its stock superdirtTarget,
-- pointed at mrtd (MRTD_PORT) instead of SuperDirt. Plays until stdin closes.
import Sound.Tidal.Context
import System.Environment (getEnv)
import System.IO

main :: IO ()
main = do
  hSetBuffering stdout LineBuffering
  port <- read <$> getEnv "MRTD_PORT"
  tidal <- startTidal (superdirtTarget {oAddress = "127.0.0.1", oPort = port}) (defaultConfig {cCtrlListen = False})
  streamOnce tidal $ s "temperature" # n 2.2
  streamReplace tidal 1 $ n "0 7" # s "superpiano" # legato 0.5 # room 0.3
  putStrLn "MRTD-TEST PLAYING"
  _ <- getContents >>= \rest -> length rest `seq` return ()
  putStrLn "MRTD-TEST DONE"
