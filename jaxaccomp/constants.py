"""Facts every layer shares: the audio rate and the stems. Plain values, importable from anywhere."""

SAMPLE_RATE = 44100  # Hz: what every codec, model, stream and file of the system runs at
STEMS = ("bass", "drums", "guitar", "piano")  # the instruments, in label order (one-hot index = position)
PITCHED_STEMS = ("bass", "guitar", "piano")  # the stems that play notes on the band's semitone grid
HOP = 4096  # samples per latent frame, for every codec (Music2Latent's grid)
WINDOW_FRAMES = 64  # latent frames in the model's window (about 5.9 s)
