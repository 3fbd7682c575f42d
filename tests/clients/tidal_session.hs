{-# LANGUAGE OverloadedStrings #-}
-- Driven by tests/test_clients_tidal.py: plays patterns through clients/tidal/MRTD.hs to the daemon at
-- MRTD_PORT, prints what it got back as "MRTD-TEST ..." lines, and plays on until stdin closes.
import Data.List (intercalate)
import qualified Sound.OSC.FD as O
import Sound.Tidal.Context
import System.Environment (getEnv)
import System.IO

import MRTD

main :: IO ()
main = do
  hSetBuffering stdout LineBuffering
  port <- read <$> getEnv "MRTD_PORT"
  let host = "127.0.0.1"
  mrtdPrompt host port "dark" "dark ambient drone"
  mrtdPrompt host port "bright" "bright fast techno"
  pong <- mrtdPing host port [O.int32 7, O.string "x"]
  putStrLn ("MRTD-TEST PONG " ++ maybe "none" (unwords . map showDatum) pong)

  mrt <- startMRTD host port
  -- One-off events (as `once` sends them)...
  streamOnce mrt $ temperature 2.6 # topk 17 # cfgNotes 3.5 # cfgDrums 4.5 # drums 1 # volume (-3)
  streamOnce mrt $ note "2" # velocity 0.8
  -- ...and a pattern on the grid (as `d1 $ ...` plays it).
  streamReplace mrt 1 $ stack [prompt "dark" # weight 0.25, prompt "bright" # weight 0.75, note "<4 5>"]

  status <- mrtdStatus host port
  -- Tab-separated: values (the mix) may hold spaces.
  putStrLn ("MRTD-TEST STATUS " ++ maybe "none" (intercalate "\t" . map (\(k, v) -> k ++ "=" ++ v)) status)
  _ <- getContents >>= \rest -> length rest `seq` return () -- until the test closes stdin
  putStrLn "MRTD-TEST DONE"
