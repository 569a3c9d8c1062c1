"""`seqtool demo`: the whole tool end to end on the sample data, in a few minutes on a laptop CPU.

Each step prints the command line that does the same thing (same settings: the demo builds its
configs from those very options, through the same :func:`~seqtool.tasks.lm.lm_recipe` and
:func:`~seqtool.tasks.mt.mt_recipe` the commands use), so it can be copied and rerun.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import ThreadsOpt, WorkspaceOpt, console, sample_data_dir, setup_torch
from seqtool.machine import usable_cores

DEMO_LM, DEMO_MT, DEMO_EMB = "demo-lm", "demo-mt", "demo-embeddings"


def _fresh(ws, name: str) -> None:  # noqa: ANN001 - Workspace
    """The demo's own models are replaced on every run."""
    if ws.model_dir(name).path.exists():
        ws.remove(name)


def command_line(command: str, *args: str, options: dict[str, Any]) -> str:
    """``$ seqtool COMMAND ARGS --option value ...`` as a user would type it (True: ``--flag``)."""
    words = ["seqtool", command, *args]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            words.append(flag)
        elif value is False:
            words.append("--no-" + flag[2:])
        elif value is not None:
            words += [flag, str(value)]
    return "$ " + " ".join(_quote(w) for w in words)


def _quote(word: str) -> str:
    """A shell word: as is when safe, else in double quotes (what a user would type)."""
    if re.fullmatch(r"[\w@%+=:,./-]+", word):
        return word
    return '"' + re.sub(r'(["\\$`])', r"\\\1", word) + '"'


@app.command("demo", rich_help_panel=panels.START)
def demo_cmd(
    quick: Annotated[bool, typer.Option(help="Even smaller budgets (for a smoke test).")] = False,
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Train a small language model, translator and word embeddings on the sample data and use them."""
    from rich.rule import Rule

    from seqtool.cli.progress import TrainingProgress
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import generate, lm_recipe, load_lm, predict_next, train_lm
    from seqtool.tasks.mt import mt_recipe, train_mt

    setup_torch(threads)
    ws = Workspace(workspace)
    ws.ensure_writable()
    where: dict[str, Any] = {"workspace": workspace}  # -w DIR on every echoed command when given
    enja = sample_data_dir() / "enja"
    t0 = time.perf_counter()
    console.print(f"seqtool demo: sample data in {sample_data_dir()}, workspace {ws.root}\n")

    console.print(Rule("1. a language model (2-layer LSTM) on the English sample sentences"))
    _fresh(ws, DEMO_LM)
    lm_files = (enja / "train.en", enja / "dev.en")
    lm_options = {"cell": "lstm", "layers": 2, "emb_dim": 128, "hidden": 128, "dropout": 0.2,
                  "epochs": 4 if quick else 12, "max_minutes": 0.75}  # fmt: skip
    console.print(command_line("train-lm", options={"train": lm_files[0], "dev": lm_files[1], **lm_options,
                                                    "name": DEMO_LM, **where}))  # fmt: skip
    lm_cfg = lm_recipe(lm_options)
    with TrainingProgress(("dev_ppl", "top1")) as progress:
        result = train_lm(ws, DEMO_LM, *lm_files, lm_cfg.model_cfg, lm_cfg.train_cfg, lm_cfg.tok_cfg,
                          threads=threads or 1, progress=progress)  # fmt: skip
    console.print(f"best dev perplexity {result.best['value']:.2f} after {result.elapsed_s:.0f}s")
    lm = load_lm(ws, DEMO_LM)
    prompt = "i can 't"
    console.print("\n" + command_line("predict-next", prompt, options={"top": 5, **where}))
    for word, p in predict_next(lm, prompt, 5):
        console.print(f"  {word:<12} {p:.3f}")
    gen = {"prompt": "my father", "max_words": 20, "temperature": 0.7, "seed": 0, "num": 3}
    console.print("\n" + command_line("generate", options={**gen, **where}))
    for i in range(gen["num"]):  # generate -n N uses seeds seed, seed+1, ...
        console.print("  " + generate(lm, gen["prompt"], gen["max_words"], temperature=gen["temperature"], seed=i))

    console.print(Rule("2. an English -> Japanese translator (a small Transformer, exported to int8)"))
    _fresh(ws, DEMO_MT)
    mt_files = (enja / "train.en", enja / "train.ja", enja / "dev.en", enja / "dev.ja")
    # A Transformer, so that CTranslate2 can run it: the README's first `translate` then starts without
    # torch (a fraction of a second, docs/benchmarks.md). The course's GRU + attention is one command away.
    mt_options = {"arch": "transformer", "layers": 2, "emb_dim": 128, "ff_dim": 256, "heads": 4,
                  "src_vocab": 300, "tgt_vocab": 300, "epochs": 4 if quick else 10,
                  "max_minutes": 0.5 if quick else 1.5}  # fmt: skip
    files = dict(zip(("src", "tgt", "dev_src", "dev_tgt"), mt_files, strict=True))
    console.print(command_line("train-mt", options={**files, **mt_options, "name": DEMO_MT, **where}))
    recipe = mt_recipe(mt_options)
    with TrainingProgress(("dev_bleu",)) as progress:
        result = train_mt(ws, DEMO_MT, *mt_files, recipe.arch, recipe.model_values, recipe.train_cfg,
                          recipe.data_cfg, threads=threads or 1, progress=progress)  # fmt: skip
    console.print(f"best dev BLEU {result.best['value']:.1f} (greedy) after {result.elapsed_s:.0f}s")
    from seqtool.tasks.export import export_model
    from seqtool.tasks.translator import load_translator

    console.print("\n" + command_line("export", DEMO_MT, options={"quantize": "int8", **where}))
    exported = export_model(ws, DEMO_MT, quantize="int8", force=True)
    console.print(f"  CTranslate2 {exported['runs_as']} engine in {exported['path']}")
    tr = load_translator(ws, DEMO_MT)  # engine auto: the export just written
    for text in ("i can't swim", "My mother went to the park yesterday.", "Do you like cats?"):
        console.print("\n" + command_line("translate", text, options=where))
        console.print("  " + tr.translate([text])[0][0].text)
    console.print(f'\n{DEMO_MT} is now the workspace\'s default translator: `seqtool translate "..."` uses it.')
    gru = {"arch": "gru", "attention": "bahdanau", "bidirectional": True, "emb_dim": 128, "hidden": 128,
           "src_vocab": 300, "tgt_vocab": 300, "epochs": 10, "name": "demo-gru", **where}  # fmt: skip
    console.print("The course's bidirectional GRU with Bahdanau attention, on the same data:", style="dim")
    console.print(command_line("train-mt", options=gru), style="dim")

    console.print(Rule("3. word embeddings (word2vec CBOW with gensim) on the Japanese sample text"))
    from seqtool.embeddings import EmbeddingSettings, analogy, load_embeddings, neighbours, train_embeddings

    corpus: Path = sample_data_dir() / "ja" / "text.txt"
    _fresh(ws, DEMO_EMB)
    emb_epochs = 5 if quick else 20
    console.print(command_line("embed", str(corpus), options={"epochs": emb_epochs, "name": DEMO_EMB, **where}))
    settings = EmbeddingSettings(epochs=emb_epochs, workers=threads or usable_cores())
    emb_result = train_embeddings(corpus, ws, DEMO_EMB, settings)
    console.print(f"trained {DEMO_EMB} in {emb_result.seconds:.1f}s")
    emb = load_embeddings(ws, DEMO_EMB)
    console.print("\n" + command_line("analogy", "父", "-", "男", "+", "女", options={"top": 3, **where}))
    _, answers = analogy(emb, "父 - 男 + 女", top=3)
    for a in answers:
        console.print(f"  {a.word}  {a.score:.3f}")
    console.print("\n" + command_line("similar", "家族", options={"top": 5, **where}))
    console.print("  " + "  ".join(f"{n.word} ({n.score:.2f})" for n in neighbours(emb, "家族", top=5)))

    console.print(Rule("done"))
    console.print(
        f"demo finished in {time.perf_counter() - t0:.0f}s. Try `seqtool models`, `seqtool evaluate mt`, "
        f'`seqtool translate --show-attention "i can\'t swim"`.'
    )
    console.print("Serve them with a web page and a JSON API: `seqtool serve`, then open http://127.0.0.1:8000/")
