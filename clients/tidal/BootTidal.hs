-- mrtd in BootTidal.hs: add these lines after your usual boot (Tidal 1.7).
-- Point :set -i at the folder holding MRTD.hs.
:set -i/path/to/mrtd/clients/tidal
:set -XOverloadedStrings
import MRTD

mrt <- startMRTD "127.0.0.1" 7400
let m1 = streamReplace mrt 1
    m2 = streamReplace mrt 2
    monce = streamOnce mrt
    mhush = streamHush mrt
    mprompt = mrtdPrompt "127.0.0.1" 7400
    mmix = mrtdMix "127.0.0.1" 7400
    mstatus = mrtdStatus "127.0.0.1" 7400 >>= putStrLn . maybe "mrtd did not answer" showStatus
