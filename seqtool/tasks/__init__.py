"""Tasks: what a command does, composed from the layers below (language modelling, translation,
distillation, compression, import, experiments). The CLI calls these; they never print."""
