"""The local Pub/Sub and Bigtable emulators: native binaries, containers, and which to use."""
