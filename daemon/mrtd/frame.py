"""The one audio format every engine produces: 40 ms of 48 kHz stereo per step."""

SAMPLE_RATE = 48_000
FRAME_SAMPLES = 1920  # 40 ms at 48 kHz
CHANNELS = 2
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE  # 0.04
FRAMES_PER_SECOND = SAMPLE_RATE // FRAME_SAMPLES  # 25
