"""Source formats that `starling ingest` reads: MovieLens releases and generic event logs."""
