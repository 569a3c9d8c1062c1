"""The panels of `seqtool --help`, in the order they are shown (a command names its panel with
``rich_help_panel=``; :func:`seqtool.cli.main` lists the commands panel by panel)."""

START = "Start here"
LM = "Language models"
MT = "Translation"
EMB = "Embeddings"
EVAL = "Evaluate & compare"
MODELS = "Models & data"
EXP = "Experiments"

ORDER = (START, LM, MT, EMB, EVAL, MODELS, EXP)
