"""The vocabulary every part speaks, and the clients too: parameters and their ranges, the kinds
of change, the OSC packet codec, the requests the daemon takes and the replies it gives.
It imports no part of the daemon, so any part (and `mrtd.client`) may import it."""
