"""The OSC/UDP server that accompanies the multi_track Max external."""
