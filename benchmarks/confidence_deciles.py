"""Is the confidence informative? BLEU by decile of the mean token log-probability (issue 27).

    seqtool translate -m NAME --input dev.en --json --tokenized --confidence --beam 5 > conf.json
    python benchmarks/confidence_deciles.py conf.json dev.ja

Sorts the sentences by the mean log-probability `translate --confidence` reports for its output, cuts them
into ten equal groups (least confident first) and prints, per group, the mean sentence BLEU and the corpus
BLEU of the group (sacrebleu; tokenize none, for references already segmented like small_parallel_enja's).
The issue's target: the least confident 10% at least 15 sentence-BLEU points below the most confident 10%.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sacrebleu.metrics import BLEU


def main(found_path: str, refs_path: str) -> None:
    found = json.loads(Path(found_path).read_text(encoding="utf-8"))["results"]
    refs = Path(refs_path).read_text(encoding="utf-8").splitlines()
    assert len(found) == len(refs), (len(found), len(refs))
    rows = [
        (r["translations"][0]["mean_logprob"], r["translations"][0]["text"], ref)
        for r, ref in zip(found, refs, strict=True)
    ]
    rows.sort(key=lambda row: row[0])
    sentence = BLEU(tokenize="none", effective_order=True)
    corpus = BLEU(tokenize="none")
    out = []
    for d in range(10):
        part = rows[d * len(rows) // 10 : (d + 1) * len(rows) // 10]
        hyps, group_refs = [p[1] for p in part], [p[2] for p in part]
        sent = sum(sentence.sentence_score(h, [r]).score for h, r in zip(hyps, group_refs, strict=True)) / len(part)
        out.append({"decile": d + 1, "sentences": len(part), "mean_logprob_range": [round(part[0][0], 3),
                    round(part[-1][0], 3)], "mean_sentence_bleu": round(sent, 2),
                    "corpus_bleu": round(corpus.corpus_score(hyps, [group_refs]).score, 2)})  # fmt: skip
        print(json.dumps(out[-1]))
    gap = out[-1]["mean_sentence_bleu"] - out[0]["mean_sentence_bleu"]
    print(json.dumps({"most_minus_least_confident_sentence_bleu": round(gap, 2), "target": 15.0}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
