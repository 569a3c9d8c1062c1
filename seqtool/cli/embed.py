"""Word embeddings: `embed`, `similar`, `analogy`, `evaluate analogy|similarity`, `plot embeddings`.

Thin wrappers over :mod:`seqtool.embeddings`; gensim and numpy are imported inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from seqtool.cli import panels
from seqtool.cli.app import app, evaluate_app, plot_app
from seqtool.cli.common import JsonOpt, ModelOpt, WorkspaceOpt, console, err_console, print_json, sample_data_dir
from seqtool.cli.runfile import ConfigFileOpt, recorded_run

RestrictOpt = Annotated[
    int,
    typer.Option("--restrict", help="Only the N most frequent words may be answers (0 = all words).", min=0),
]


def sample_corpus() -> Path:
    """The project's generated Japanese sample text (see sample_data/README.md)."""
    return sample_data_dir() / "ja" / "text.txt"


@app.command("embed", rich_help_panel=panels.EMB)
def embed(
    ctx: typer.Context,
    corpus: Annotated[
        Path | None, typer.Argument(help="Segmented text, one sentence per line \\[default: the sample data].")
    ] = None,
    method: Annotated[str | None, typer.Option("--method", help="cbow or skipgram.")] = None,
    dim: Annotated[int | None, typer.Option("--dim", help="Vector dimensions.")] = None,
    window: Annotated[int | None, typer.Option("--window", help="Context words on each side.")] = None,
    min_count: Annotated[int | None, typer.Option("--min-count", help="Ignore rarer words.")] = None,
    negative: Annotated[int | None, typer.Option("--negative", help="Negative samples per word.")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Passes over the corpus.")] = None,
    sample: Annotated[float | None, typer.Option("--sample", help="Down-sampling of frequent words.")] = None,
    alpha: Annotated[float | None, typer.Option("--alpha", help="Initial learning rate.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", help="Worker threads \\[default: all cores].", show_default=False)
    ] = None,
    name: Annotated[str, typer.Option("--name", help="Model name in the workspace.")] = "w2v",
    export: Annotated[
        tuple[str, Path] | None,
        typer.Option(
            "--export", metavar="FORMAT FILE", help="Also write the vectors as word2vec-text or word2vec-bin."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
    config: ConfigFileOpt = None,
) -> None:
    """Train word2vec (gensim, all cores) on a segmented corpus; the model becomes the default embeddings."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from seqtool.embeddings import EmbeddingSettings, EpochReport, check_corpus, save_vectors, train_embeddings
    from seqtool.embeddings.vectors import EXPORT_FORMATS, load_embeddings
    from seqtool.errors import OptionError

    given = dict(method=method, dim=dim, window=window, min_count=min_count, negative=negative, epochs=epochs,
                 sample=sample, alpha=alpha, seed=seed, workers=threads)  # fmt: skip
    settings = EmbeddingSettings(**{k: v for k, v in given.items() if v is not None})
    settings.validate()
    if export is not None and export[0] not in EXPORT_FORMATS:
        raise OptionError(f"--export format must be one of {', '.join(EXPORT_FORMATS)}, got {export[0]!r}")
    if export is not None and export[1].is_dir():
        raise OptionError(f"--export {export[1]}: is a directory; give a file name")
    path = corpus or sample_corpus()
    check_corpus(path)  # before the progress bar appears
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}  {task.fields[speed]} words/s"),
        TimeElapsedColumn(),
        console=err_console,
        disable=json,
    ) as progress:
        task = progress.add_task(f"{settings.method} epochs", total=settings.epochs, loss="-", speed="-")

        def report(r: EpochReport) -> None:
            progress.update(task, completed=r.epoch, loss=f"{r.loss:.4f}", speed=f"{r.words_per_s:,.0f}")

        from seqtool.store.workspace import Workspace

        with recorded_run(ctx, Workspace(workspace), name, False, {"corpus": path, "seed": settings.seed}):
            result = train_embeddings(path, workspace, name, settings, report)
    exported = None
    if export is not None:
        exported = str(save_vectors(load_embeddings(workspace, result.name).kv, export[1], export[0]))
    if json:
        print_json(
            {
                "name": result.name,
                "path": str(result.path),
                "vocab_size": result.vocab_size,
                "dim": result.dim,
                "seconds": round(result.seconds, 3),
                "corpus": result.corpus,
                "export": exported,
            }
        )
        return
    c = result.corpus
    console.print(
        f"trained [bold]{result.name}[/] ({settings.method}, {result.dim} dims) on {path}: {c['sentences']:,} sentences, "
        f"{c['words']:,} words, {c['vocab_size']:,} of {c['word_types']:,} word types kept, "
        f"in {result.seconds:.1f}s -> {result.path}"
    )
    if exported:
        console.print(f"exported {export[0] if export else ''} vectors to {exported}")
    if result.language == "ja":
        console.print("try: seqtool similar 家族   |   seqtool analogy 父 - 男 + 女")
    else:
        console.print(f"try: seqtool similar WORD (e.g. {', '.join(_content_words(result.frequent_words))})")


def _content_words(frequent: list[str], n: int = 3) -> list[str]:
    """A few frequent words of two letters or more, skipping the very top (particles, articles)."""
    long_words = [w for w in frequent[20:] if len(w) > 1 and any(ch.isalpha() for ch in w)]
    return long_words[:n] or frequent[:n]


def _results_table(title: str, caption: str, results: list[Any]) -> Table:
    table = Table(title=title, caption=caption)
    table.add_column("#", justify="right")
    table.add_column("word")
    table.add_column("score", justify="right")
    for rank, r in enumerate(results, start=1):
        table.add_row(str(rank), r.word, f"{r.score:.4f}")
    return table


def _print_results(query: str, results: list[Any], title: str, caption: str, json: bool) -> None:
    if json:
        print_json({"query": query, "results": [{"word": r.word, "score": round(r.score, 6)} for r in results]})
    else:
        console.print(_results_table(title, caption, results))


@app.command("similar", rich_help_panel=panels.EMB)
def similar(
    word: Annotated[str, typer.Argument(help="A word of the model's vocabulary.")],
    top: Annotated[int, typer.Option("--top", help="How many neighbours.", min=1)] = 10,
    restrict: RestrictOpt = 0,
    model: ModelOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Nearest words by cosine similarity."""
    from seqtool.embeddings import load_embeddings, neighbours

    emb = load_embeddings(workspace, model)
    results = neighbours(emb, word.strip(), top=top, restrict=restrict)
    _print_results(word.strip(), results, f"nearest to {word.strip()}", f"model {emb.name}", json)


@app.command("analogy", context_settings={"ignore_unknown_options": True}, rich_help_panel=panels.EMB)
def analogy(
    expression: Annotated[
        list[str], typer.Argument(help="Words joined by + and - (ASCII or full-width): 父 - 男 + 女")
    ],
    top: Annotated[int, typer.Option("--top", help="How many answers.", min=1)] = 5,
    method: Annotated[str, typer.Option("--method", help="add (3CosAdd) or mul (3CosMul).")] = "add",
    restrict: RestrictOpt = 0,
    model: ModelOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Solve a word analogy: any number of + and - terms; the query words are never answers."""
    from seqtool.embeddings import analogy as solve
    from seqtool.embeddings import load_embeddings
    from seqtool.embeddings.analogy import check_method, parse_expression

    expr = parse_expression(expression)  # expression errors before the model is loaded
    check_method(method)
    emb = load_embeddings(workspace, model)
    _, results = solve(emb, expr, top=top, method=method, restrict=restrict)
    _print_results(str(expr), results, str(expr), f"model {emb.name}, 3Cos{method.capitalize()}", json)


@evaluate_app.command("analogy")
def evaluate_analogy(
    questions: Annotated[
        Path | None,
        typer.Option("--questions", help="questions-words.txt format \\[default: gensim's, English models only]."),
    ] = None,
    method: Annotated[str, typer.Option("--method", help="add (3CosAdd) or mul (3CosMul).")] = "add",
    restrict: RestrictOpt = 0,
    model: ModelOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Analogy accuracy per section and in total (top-1, and top-5); OOV questions counted apart."""
    from seqtool.data.corpus import check_file
    from seqtool.embeddings import load_embeddings
    from seqtool.embeddings.analogy import check_method
    from seqtool.embeddings.evaluation import evaluate_analogies

    check_method(method)
    if questions is not None:
        check_file(questions)
    emb = load_embeddings(workspace, model)
    result = evaluate_analogies(emb, questions, method=method, restrict=restrict or None)
    if json:
        print_json(result)
        return
    table = Table(title=f"analogies: {result['questions']} ({emb.name}, 3Cos{method.capitalize()})")
    for col in ("section", "top-1", "top-5", "correct", "asked", "oov"):
        table.add_column(col, justify="left" if col == "section" else "right")
    rows = [*result["sections"], {**result, "name": "[bold]total[/]"}]
    for s in rows:
        table.add_row(
            s["name"],
            f"{s['accuracy']:.1%}",
            f"{s['top5_accuracy']:.1%}",
            str(s["correct"]),
            str(s["total"]),
            str(s["oov"]),
        )
    console.print(table)


@evaluate_app.command("similarity")
def evaluate_similarity(
    pairs: Annotated[
        Path | None,
        typer.Option(
            "--pairs", help="Lines 'word1 word2 score' \\[default: gensim's wordsim353, English models only]."
        ),
    ] = None,
    model: ModelOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Spearman correlation between human similarity scores and cosine similarity."""
    from seqtool.data.corpus import check_file
    from seqtool.embeddings import load_embeddings
    from seqtool.embeddings.evaluation import evaluate_similarity as run

    if pairs is not None:
        check_file(pairs)
    emb = load_embeddings(workspace, model)
    result = run(emb, pairs)
    if json:
        print_json(result)
        return

    def show(value: float | None) -> str:
        return "n/a (constant scores)" if value is None else f"{value:.4f}"

    console.print(
        f"{result['pairs_file']} ({emb.name}): Spearman {show(result['spearman'])}, Pearson {show(result['pearson'])}, "
        f"{result['pairs']} pairs used, {result['oov']} out of vocabulary ({result['oov_ratio']:.1%})"
    )


@plot_app.command("embeddings")
def plot_embeddings(
    words: Annotated[list[str], typer.Argument(help="Words to place in the picture.")],
    neighbours: Annotated[int, typer.Option("--neighbours", help="Also draw N neighbours of each word.", min=0)] = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="PNG path \\[default: figures/embeddings-MODEL.png].")
    ] = None,
    model: ModelOpt = None,
    workspace: WorkspaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """A 2-D PCA picture of the chosen words (Japanese rendered with a bundled CJK font)."""
    from seqtool.embeddings import load_embeddings
    from seqtool.store.workspace import Workspace
    from seqtool.viz.embeddings import plot_embeddings as draw

    emb = load_embeddings(workspace, model)
    path = output or Workspace(workspace).figures_dir / f"embeddings-{emb.name}.png"
    result = draw(emb, [w.strip() for w in words], path, neighbours_per_word=neighbours)
    if json:
        print_json({"path": str(result.path), "words": result.words, "neighbours": result.neighbours})
        return
    console.print(f"wrote {result.path} ({len(result.words)} words, {len(result.neighbours)} neighbours)")
