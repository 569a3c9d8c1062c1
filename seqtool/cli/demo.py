"""`seqtool demo`: the whole tool end to end on the sample data, in a few minutes on a laptop CPU."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from seqtool.cli import panels
from seqtool.cli.app import app
from seqtool.cli.common import ThreadsOpt, WorkspaceOpt, console, default_threads, sample_data_dir, setup_torch

DEMO_LM, DEMO_MT, DEMO_EMB = "demo-lm", "demo-mt", "demo-embeddings"


def _fresh(ws, name: str) -> None:  # noqa: ANN001 - Workspace
    """The demo's own models are replaced on every run."""
    if ws.model_dir(name).path.exists():
        ws.remove(name)


@app.command("demo", rich_help_panel=panels.START)
def demo_cmd(
    quick: Annotated[bool, typer.Option(help="Even smaller budgets (for a smoke test).")] = False,
    threads: ThreadsOpt = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Train a small language model, translator and word embeddings on the sample data and use them."""
    from rich.rule import Rule

    from seqtool.cli.progress import TrainingProgress
    from seqtool.models.lm import LMConfig
    from seqtool.store.workspace import Workspace
    from seqtool.tasks.lm import TokenizerConfig, generate, lm_train_config, load_lm, predict_next, train_lm
    from seqtool.tasks.mt import MTDataConfig, load_translator, mt_train_config, train_mt

    setup_torch(threads)
    ws = Workspace(workspace)
    ws.ensure_writable()
    enja = sample_data_dir() / "enja"
    t0 = time.perf_counter()
    console.print(f"seqtool demo: sample data in {sample_data_dir()}, workspace {ws.root}\n")

    console.print(Rule("1. a language model (2-layer LSTM) on the English sample sentences"))
    _fresh(ws, DEMO_LM)
    console.print(f"$ seqtool train-lm --cell lstm --train {enja / 'train.en'} --name {DEMO_LM}")
    with TrainingProgress(("dev_ppl", "top1")) as progress:
        result = train_lm(
            ws, DEMO_LM, enja / "train.en", enja / "dev.en",
            LMConfig(cell="lstm", layers=2, emb_dim=128, hidden=128, dropout=0.2),
            lm_train_config(epochs=4 if quick else 12, batch_tokens=512, lr=3e-3, max_minutes=0.75),
            TokenizerConfig(), progress=progress,
        )  # fmt: skip
    console.print(f"best dev perplexity {result.best['value']:.2f} after {result.elapsed_s:.0f}s")
    lm = load_lm(ws, DEMO_LM)
    prompt = "i can 't"
    console.print(f'\n$ seqtool predict-next "{prompt}" --top 5')
    for word, p in predict_next(lm, prompt, 5):
        console.print(f"  {word:<12} {p:.3f}")
    console.print('\n$ seqtool generate --prompt "my father" --temperature 0.7 -n 3')
    for i in range(3):
        console.print("  " + generate(lm, "my father", 20, temperature=0.7, seed=i))

    console.print(Rule("2. an English -> Japanese translator (bidirectional GRU + Bahdanau attention)"))
    _fresh(ws, DEMO_MT)
    console.print(
        f"$ seqtool train-mt --arch gru --attention bahdanau --bidirectional --src {enja / 'train.en'} "
        f"--tgt {enja / 'train.ja'} --name {DEMO_MT}"
    )
    with TrainingProgress(("dev_bleu",)) as progress:
        result = train_mt(
            ws, DEMO_MT, enja / "train.en", enja / "train.ja", enja / "dev.en", enja / "dev.ja", "gru",
            {"emb_dim": 128, "hidden": 128, "dropout": 0.1, "attention": "bahdanau", "bidirectional": True},
            mt_train_config("gru", epochs=4 if quick else 10, batch_tokens=1000, lr=3e-3,
                            max_minutes=0.5 if quick else 1.5),
            MTDataConfig(src_vocab=300, tgt_vocab=300), progress=progress,
        )  # fmt: skip
    console.print(f"best dev BLEU {result.best['value']:.1f} (greedy) after {result.elapsed_s:.0f}s")
    tr = load_translator(ws, DEMO_MT)
    for text in ("i can't swim", "My mother went to the park yesterday.", "Do you like cats?"):
        console.print(f'\n$ seqtool translate "{text}"')
        console.print("  " + tr.translate([text])[0][0].text)
    ws.set_default("mt", DEMO_MT)
    console.print(f'\n{DEMO_MT} is now the workspace\'s default translator: `seqtool translate "..."` uses it.')

    console.print(Rule("3. word embeddings (word2vec CBOW with gensim) on the Japanese sample text"))
    from seqtool.embeddings import EmbeddingSettings, analogy, load_embeddings, neighbours, train_embeddings

    corpus = sample_data_dir() / "ja" / "text.txt"
    _fresh(ws, DEMO_EMB)
    console.print(f"$ seqtool embed {corpus} --name {DEMO_EMB}")
    emb_result = train_embeddings(
        corpus, ws, DEMO_EMB, EmbeddingSettings(epochs=5 if quick else 20, workers=threads or default_threads())
    )
    console.print(f"trained {DEMO_EMB} in {emb_result.seconds:.1f}s")
    emb = load_embeddings(ws, DEMO_EMB)
    console.print("\n$ seqtool analogy 父 - 男 + 女 --top 3")
    _, answers = analogy(emb, "父 - 男 + 女", top=3)
    for a in answers:
        console.print(f"  {a.word}  {a.score:.3f}")
    console.print("\n$ seqtool similar 家族 --top 5")
    console.print("  " + "  ".join(f"{n.word} ({n.score:.2f})" for n in neighbours(emb, "家族", top=5)))

    console.print(Rule("done"))
    console.print(
        f"demo finished in {time.perf_counter() - t0:.0f}s. Try `seqtool models`, `seqtool evaluate mt`, "
        f'`seqtool translate --show-attention "i can\'t swim"`.'
    )
    console.print("Serve them with a web page and a JSON API: `seqtool serve`, then open http://127.0.0.1:8000/")
