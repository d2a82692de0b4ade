"""The OSC protocol the server and every client speak: the reference Max external's messages and ours.

Both `server` and `client` import it; it imports nothing of the model, so a front end can be written
against it alone.
"""

from jaxaccomp.protocol.messages import (CAPABILITIES, IMMEDIATELY, MAX_BUNDLE_DEPTH, MAX_PACKAGE_SIZE, MAX_STEMS,
                                         MIN_PACKAGE_SIZE, PROTOCOL_VERSION, AudioChunk, BatchDropped, Bundle, Busy, Hello,
                                         HelloReply, LoadModel, Message, PacketTest, PacketTestResponse, Predict,
                                         PredictInstruments, Print, Ready, Reset, ServerPredicted, Stats, StatsReply,
                                         UpdateFade, UpdatePackageSize, UpdateR, Verbose, W, audio_chunks, parse)
from jaxaccomp.protocol.osc import MAX_DATAGRAM, WireError

__all__ = [
    "CAPABILITIES", "IMMEDIATELY", "MAX_BUNDLE_DEPTH", "MAX_DATAGRAM", "MAX_PACKAGE_SIZE", "MAX_STEMS",
    "MIN_PACKAGE_SIZE", "PROTOCOL_VERSION", "AudioChunk", "BatchDropped", "Bundle", "Busy", "Hello", "HelloReply",
    "LoadModel", "Message", "PacketTest", "PacketTestResponse", "Predict", "PredictInstruments", "Print", "Ready",
    "Reset", "ServerPredicted", "Stats", "StatsReply", "UpdateFade", "UpdatePackageSize", "UpdateR", "Verbose", "W",
    "WireError", "audio_chunks", "parse",
]
