"""Write the sample dialogues: short everyday exchanges in English and Japanese, and a recall set.

    python sample_data/make_dialogs.py      # deterministic: the same files every run

Format (what `seqtool train-dialog` reads): one utterance per line, `A: ` / `B: ` speaker prefixes,
a blank line between dialogues. English is lowercased and tokenized like small_parallel_enja; Japanese
words are separated by spaces. Nothing is copied from any corpus.

- dialog/train.en, dev.en, train.ja, dev.ja: everyday exchanges (greetings, food, weather, plans,
  shopping); several replies fit one context, which is what VHRED's latent is for.
- dialog/recall.train, recall.dev: three-utterance dialogues whose last reply repeats a word of the
  first utterance, two turns back (`i like red .` / `really ?` / `so you like red .`); the middle
  utterance says nothing about it, so a model reading only the last utterance cannot know the word.
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "dialog"

FOODS = [("sushi", "寿司"), ("ramen", "ラーメン"), ("curry", "カレー"), ("pizza", "ピザ"), ("noodles", "そば"),
         ("bread", "パン"), ("rice", "ご飯"), ("cake", "ケーキ")]  # fmt: skip
PLACES = [("the park", "公園"), ("the library", "図書館"), ("the station", "駅"), ("the beach", "海"),
          ("the museum", "博物館"), ("kyoto", "京都"), ("the mountains", "山")]  # fmt: skip
DAYS = [("tomorrow", "明日"), ("on sunday", "日曜日 に"), ("this weekend", "今週末"), ("tonight", "今夜")]
WEATHER = [("sunny", "晴れ"), ("rainy", "雨"), ("cloudy", "曇り"), ("snowy", "雪")]
THINGS = [("a bag", "かばん"), ("a book", "本"), ("shoes", "靴"), ("a hat", "帽子"), ("a camera", "カメラ")]
GREET_REPLIES = [("i am fine , thanks .", "元気 です 、 ありがとう 。"), ("not bad .", "まあまあ です 。"),
                 ("i am a little tired .", "少し 疲れ て い ます 。"), ("great , thank you .", "とても 元気 です 。")]  # fmt: skip
YES_NO = [("sounds good .", "いい です ね 。"), ("sure , why not ?", "もちろん 。"),
          ("sorry , i am busy .", "ごめん 、 忙しい です 。"), ("maybe next time .", "また 今度 に し ます 。")]  # fmt: skip


def everyday(rng: random.Random) -> tuple[list[str], list[str]]:
    kind = rng.randrange(5)
    if kind == 0:
        g = rng.choice(GREET_REPLIES)
        en = ["hello , how are you ?", g[0], "me too .", "see you later ."]
        ja = ["こんにちは 、 元気 です か ?", g[1], "私 も です 。", "また ね 。"]
    elif kind == 1:
        f, f2 = rng.sample(FOODS, 2)
        en = ["what do you want to eat ?", f"i want {f[0]} .", f"i had {f[0]} yesterday . how about {f2[0]} ?",
              rng.choice(YES_NO)[0]]  # fmt: skip
        ja = ["何 を 食べ たい です か ?", f"{f[1]} が 食べ たい です 。",
              f"昨日 {f[1]} を 食べ まし た 。 {f2[1]} は どう です か ?", rng.choice(YES_NO)[1]]  # fmt: skip
    elif kind == 2:
        w = rng.choice(WEATHER)
        d = rng.choice(DAYS)
        en = [f"how is the weather {d[0]} ?", f"it will be {w[0]} .", "i see . thank you ."]
        ja = [
            f"{d[1].removesuffix(' に')} の 天気 は どう です か ?",
            f"{w[1]} に なり ます 。",
            "わかり まし た 。 ありがとう 。",
        ]
    elif kind == 3:
        p, d, a = rng.choice(PLACES), rng.choice(DAYS), rng.choice(YES_NO)
        en = [f"shall we go to {p[0]} {d[0]} ?", a[0], "ok . call me later ."]
        ja = [f"{d[1]} {p[1]} に 行き ませ ん か ?", a[1], "わかっ た 。 後 で 電話 し て 。"]
    else:
        t = rng.choice(THINGS)
        price = rng.choice([10, 20, 30, 50])
        en = ["can i help you ?", f"i am looking for {t[0]} .", f"this one is {price} dollars .",
              rng.choice(["i will take it .", "it is too expensive .", "do you have a cheaper one ?"])]  # fmt: skip
        ja = ["いらっしゃい ませ 。", f"{t[1]} を 探し て い ます 。", f"これ は {price} ドル です 。",
              rng.choice(["これ に し ます 。", "高 すぎ ます 。", "もっと 安い の は あり ます か ?"])]  # fmt: skip
    return en, ja


COLOURS = ["red", "blue", "green", "black", "white", "yellow", "pink", "brown"]
MIDDLE = ["really ?", "oh , i see .", "why ?", "is that so ?", "tell me more ."]


def recall(rng: random.Random) -> list[str]:
    colour = rng.choice(COLOURS)
    return [f"i like {colour} .", rng.choice(MIDDLE), f"so you like {colour} ."]


def write(path: Path, dialogues: list[list[str]]) -> None:
    blocks = ["\n".join(f"{'AB'[i % 2]}: {u}" for i, u in enumerate(d)) for d in dialogues]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


def main() -> None:
    rng = random.Random(16)
    OUT.mkdir(exist_ok=True)
    pairs = [everyday(rng) for _ in range(400)]
    for lang, side in (("en", 0), ("ja", 1)):
        write(OUT / f"train.{lang}", [p[side] for p in pairs[:360]])
        write(OUT / f"dev.{lang}", [p[side] for p in pairs[360:]])
    dialogues = [recall(rng) for _ in range(440)]
    write(OUT / "recall.train", dialogues[:400])
    write(OUT / "recall.dev", dialogues[400:])


if __name__ == "__main__":
    main()
