"""Storage: the workspace of named model folders (:mod:`.workspace`) and every weight file (:mod:`.weights`)."""
