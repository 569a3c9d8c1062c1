"""Write a small raw English-Japanese corpus in each layout `seqtool data prepare` reads (sample_data/raw/).

Nothing is copied from any corpus: the pairs come from make_parallel.py's grammar, turned into raw text
(English with capitals and contractions, `I can't swim.`; Japanese without spaces, `私は泳げない。`), and a few
sentences in French and German written here for the wrong-language cases. Each layout then gets deliberate
corruptions, and raw/truth.json says which line holds which (and the reason `data prepare` should give):

- duplicate, near_duplicate (the same pair in other case and punctuation), empty (one side blank), swapped
  (the sides exchanged: wrong_script), markup (HTML tags or entities), same_text (English on both sides),
  too_long, length_ratio (one sentence against five), wrong_language (French or German on the English side),
  low_score (the TSV's score column);
- misaligned: a stretch of lines where the Japanese side is one line late. Each side is fine on its own, so no
  rule catches them; truth.json lists them as kept, which is the point (see docs/data-prepare.md).

    python sample_data/make_raw.py      # deterministic: the same files every run
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from make_parallel import pairs as grammar_pairs

OUT = Path(__file__).resolve().parent / "raw"
PROPER = {"i": "I", "tom": "Tom", "mary": "Mary", "tokyo": "Tokyo", "kyoto": "Kyoto", "english": "English"}
# Written for this project: long enough (20+ characters) for language ID to judge.
FOREIGN = [
    "Mon père est allé au parc hier avec son chien.",
    "Nous avons mangé du poisson au restaurant ce soir.",
    "Ma sœur aime beaucoup les chats et la musique.",
    "Der Lehrer hat gestern einen langen Brief geschrieben.",
    "Meine Mutter trinkt jeden Morgen eine Tasse Kaffee.",
    "Wir fahren morgen mit dem Zug nach Kyoto.",
]

Pair = tuple[str, str]


def detokenize(en: str) -> str:
    """`i can 't swim .` -> `I can't swim.`"""
    text = " ".join(PROPER.get(w, w) for w in en.split())
    for a, b in ((" 't", "'t"), (" .", "."), (" ?", "?"), (" ,", ",")):
        text = text.replace(a, b)
    return text[0].upper() + text[1:]


def raw_pairs(rng: random.Random) -> list[Pair]:
    """Every grammar pair as raw text, plus some two-sentence pairs, shuffled."""
    base = [(detokenize(en), ja.replace(" ", "")) for en, ja in sorted(set(grammar_pairs()))]
    joined = [(f"{a[0]} {b[0]}", a[1] + b[1]) for a, b in zip(base[::7], base[3::7], strict=False)]
    out = base + joined
    rng.shuffle(out)
    return out


class Corrupter:
    """Builds one layout's list of pairs: clean pairs with corruptions mixed in, and the truth about each line."""

    def __init__(self, rng: random.Random, clean: list[Pair]) -> None:
        self.rng, self.clean = rng, iter(clean)
        self.rows: list[Pair] = []
        self.truth: dict[str, list[int]] = {}  # kind -> line numbers (1-based)
        self.kept: list[Pair] = []

    def add(self, pair: Pair, kind: str) -> None:
        self.rows.append(pair)
        self.truth.setdefault(kind, []).append(len(self.rows))
        if kind == "clean":
            self.kept.append(pair)  # what duplicates copy

    def take(self) -> Pair:
        return next(self.clean)

    def build(self, n_clean: int, kinds: dict[str, int]) -> None:
        """``n_clean`` clean pairs and ``kinds[k]`` corruptions of each kind, at random places."""
        plan = ["clean"] * n_clean + [k for k, n in kinds.items() for _ in range(n)]
        self.rng.shuffle(plan)
        for kind in plan:
            if kind == "clean" or not self.kept:
                self.add(self.take(), "clean")
            else:
                getattr(self, kind)()

    def duplicate(self) -> None:
        self.add(self.rng.choice(self.kept), "duplicate")

    def near_duplicate(self) -> None:
        en, ja = self.rng.choice(self.kept)
        self.add((en.lower().rstrip(".?") + " !", "  " + ja.rstrip("。") + "！"), "near_duplicate")

    def empty(self) -> None:
        en, ja = self.take()
        self.add((en, "") if self.rng.random() < 0.5 else ("  ", ja), "empty")

    def swapped(self) -> None:
        en, ja = self.take()
        self.add((ja, en), "wrong_script")

    def markup(self) -> None:
        en, ja = self.take()
        tagged = self.rng.choice([f"<p>{en}</p>", f"{en}<br/>", en.replace(" ", " &amp; ", 1), f'<a href="#">{en}</a>'])
        self.add((tagged, ja), "markup")

    def same_text(self) -> None:
        en, _ = self.take()
        self.add((en, en), "same_text")

    def too_long(self) -> None:
        group = [self.take() for _ in range(45)]  # about 270 words
        self.add((" ".join(e for e, _ in group), "".join(j for _, j in group)), "too_long")

    def length_ratio(self) -> None:
        en = self.take()[0].split(". ")[0].rstrip(".") + "."  # one sentence (some pairs have two)
        self.add((en, "".join(self.take()[1] for _ in range(6))), "length_ratio")

    def low_score(self) -> None:
        self.add(self.take(), "low_score")  # a fine pair the miner scored low: --min-score removes it all the same

    def wrong_language(self) -> None:
        _, ja = self.take()
        self.add((self.rng.choice(FOREIGN), ja), "wrong_language")

    def misaligned(self, length: int = 4) -> None:
        """``length`` lines whose Japanese is the next line's: each pair is fluent text, not a translation."""
        group = [self.take() for _ in range(length + 1)]
        for (en, _), (_, ja) in zip(group, group[1:], strict=False):
            self.add((en, ja), "misaligned")


def write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


CORRUPTIONS = {"duplicate": 12, "near_duplicate": 6, "empty": 6, "swapped": 6, "markup": 6, "same_text": 3,
               "too_long": 2, "length_ratio": 4, "wrong_language": 4, "misaligned": 2}  # fmt: skip


def main() -> None:
    rng = random.Random(20240528)
    pool = raw_pairs(rng)
    truth: dict[str, dict[str, list[int]]] = {}

    # pairs.en / pairs.ja: line-aligned text files.
    c = Corrupter(rng, pool[:700])
    c.build(300, CORRUPTIONS)
    write_lines(OUT / "pairs.en", [en for en, _ in c.rows])
    write_lines(OUT / "pairs.ja", [ja for _, ja in c.rows])
    truth["pairs"] = c.truth

    # wikimatrix.tsv: score<TAB>en<TAB>ja, like WikiMatrix; bad pairs get the low scores its margin gives.
    c = Corrupter(rng, pool[700:1050])
    c.build(200, {**CORRUPTIONS, "misaligned": 0, "too_long": 0, "low_score": 10})
    low = set(c.truth["low_score"])
    scores = [rng.uniform(0.90, 1.03) if i in low else rng.uniform(1.04, 1.30) for i in range(1, len(c.rows) + 1)]
    write_lines(OUT / "wikimatrix.tsv", [f"{s:.4f}\t{en}\t{ja}" for s, (en, ja) in zip(scores, c.rows, strict=True)])
    truth["wikimatrix"] = c.truth

    # kftt/kftt-data-1.0/data/orig/kyoto-{train,dev,test,tune}.{en,ja}: KFTT's layout (tune is not read).
    orig = OUT / "kftt" / "kftt-data-1.0" / "data" / "orig"
    held = {"dev": pool[1050:1090], "test": pool[1090:1130], "tune": pool[1130:1150]}
    c = Corrupter(rng, pool[1150:])
    c.build(150, {"duplicate": 4, "empty": 3, "swapped": 2, "markup": 2})
    c.rows += [held["dev"][3], held["test"][5]]  # training lines that repeat a dev and a test pair
    c.truth.setdefault("duplicate", []).extend([len(c.rows) - 1, len(c.rows)])
    for split, rows in (("train", c.rows), *held.items()):
        write_lines(orig / f"kyoto-{split}.en", [en for en, _ in rows])
        write_lines(orig / f"kyoto-{split}.ja", [ja for _, ja in rows])
    truth["kftt"] = c.truth

    # tatoeba/sentences.csv (id, lang, text) + links.csv (id, id, both directions), like Tatoeba's exports.
    truth["tatoeba"] = write_tatoeba(rng, pool[:160])
    (OUT / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: " + ", ".join(f"{k} {sum(map(len, v.values()))} lines" for k, v in truth.items()))


def write_tatoeba(rng: random.Random, pool: list[Pair]) -> dict[str, list[int]]:
    """Sentences with ids (English, Japanese, French distractors), and links between translations."""
    sentences: list[tuple[int, str, str]] = []
    links: list[tuple[int, int, str]] = []  # (eng id, jpn id, what the pair is)

    def sentence(lang: str, text: str) -> int:
        sentences.append((1000 + 7 * len(sentences), lang, text))
        return sentences[-1][0]

    for i, (en, ja) in enumerate(pool):
        kind = "clean"
        if i % 40 == 5:
            en, ja, kind = en, en, "same_text"  # an English sentence filed under jpn
        elif i % 40 == 11:
            en, kind = rng.choice(FOREIGN), "wrong_language"  # filed under eng
        elif i % 40 == 17:
            ja, kind = en, "wrong_script"
            en = pool[i - 1][0] + " " + pool[i - 2][0]
        e, j = sentence("eng", en), sentence("jpn", ja)
        links.append((e, j, kind))
        if i % 25 == 3:  # the same English twice (Tatoeba's duplicates), linked to the same Japanese
            links.append((sentence("eng", en), j, "duplicate"))
        if i % 10 == 0:
            sentence("fra", rng.choice(FOREIGN[:3]))  # other languages: never paired
    sentence("eng", "An English sentence nobody has translated yet.")
    both_ways = sorted([(a, b, k) for a, b, k in links] + [(b, a, "reverse") for a, b, _ in links])
    root = OUT / "tatoeba"
    write_lines(root / "sentences.csv", [f"{i}\t{lang}\t{text}" for i, lang, text in sentences])
    write_lines(root / "links.csv", [f"{a}\t{b}" for a, b, _ in both_ways])
    truth: dict[str, list[int]] = {}
    for line, (_, _, kind) in enumerate(both_ways, start=1):
        if kind != "reverse":
            truth.setdefault(kind, []).append(line)
    return truth


if __name__ == "__main__":
    main()
