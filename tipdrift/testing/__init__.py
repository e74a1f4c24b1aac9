"""For testing and evaluation only: a synthetic-world generator with known truth
(`synth`) and the scorer that measures tipdrift against it (`evaluate`). Nothing in the
analysis path imports this subpackage."""
