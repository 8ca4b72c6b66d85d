#!/usr/bin/env python3
"""Writes tests/fixtures/rouge/: ROUGE, Porter-stem and sentence-split references.

All numbers come from the reference implementations the recipe runs: rouge_score.RougeScorer(
["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True), nltk's PorterStemmer() and
nltk.sent_tokenize (English Punkt; see punkt_english.py). Texts are CNN/DailyMail rows from
shared/data/cnn_dm_sample/cnn_dm_sample.jsonl and hand-written edge cases.

Files:
- rouge_pairs.jsonl: one prediction/reference pair per line with the sentences nltk finds in each
  (UTF-8 byte spans of the text, after the recipe's strip()) and rouge-score's precision, recall
  and F1 for rouge1/rouge2/rougeL on the raw texts, rougeLsum on the sentence-per-line texts (as
  the recipe's postprocess_text makes them) and rougeLsum_newlines on the raw texts (rouge-score
  alone: Lsum sentences are the texts' own lines).
- rouge_corpus.json: the corpus mean F1 × 100 over all pairs in both Lsum modes, and the
  recipe's bootstrap "mid" (BootstrapAggregator, numpy seed 0) for comparison.
- porter_stems.tsv: word<TAB>nltk stem for distinct words of the sample articles and special cases.
- punkt_sample_splits.tsv: nltk's sentences of every sample highlights text, with its newlines
  turned into spaces (as the recipe's decoded labels) and as stored, and of every article:
  `kind<TAB>row<TAB>count<TAB>fnv1a64 hex of "begin:end," over the byte spans`, and for the
  spaced highlights also the spans themselves.

Usage: python tools/reference/make_rouge_fixture.py [--data shared/data/cnn_dm_sample/cnn_dm_sample.jsonl]
"""

import argparse
import json
import os
import random

import nltk
import numpy as np
from nltk.stem import porter
from rouge_score import rouge_scorer, scoring

import punkt_english

TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def byte_spans(text, spans):
    """Code-point spans of `text` → UTF-8 byte spans."""
    offsets = [0]
    for ch in text:
        offsets.append(offsets[-1] + len(ch.encode("utf-8")))
    return [(offsets[b], offsets[e]) for b, e in spans]


def nltk_spans(text):
    """Byte spans of nltk.sent_tokenize(text.strip()) within `text`."""
    stripped = text.strip()
    shift = len(text) - len(text.lstrip())
    tokenizer = nltk.tokenize._get_punkt_tokenizer("english")
    spans = list(tokenizer.span_tokenize(stripped))
    sentences = [stripped[b:e] for b, e in spans]
    assert sentences == nltk.sent_tokenize(stripped)
    return byte_spans(text, [(b + shift, e + shift) for b, e in spans])


def sentence_per_line(text):
    """The recipe's postprocess_text."""
    return "\n".join(nltk.sent_tokenize(text.strip()))


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def spans_signature(spans):
    return fnv1a64("".join(f"{b}:{e}," for b, e in spans))


def edge_cases():
    """(prediction, reference) pairs for tokenizer, scorer and splitter corner cases."""
    return [
        ("", ""),
        ("", "The reference has words."),
        ("The prediction has words.", ""),
        ("   ", "Only spaces on the other side."),
        ("!!! ... ???", "Punctuation only --- on one side?"),
        ("the the the the", "the cat sat on the mat"),
        ("cat the mat on sat the", "the cat sat on the mat"),
        ("The cat sat on the mat.", "The cat sat on the mat."),
        ("The CAT Sat ON the MAT", "the cat sat on the mat"),
        ("Running runners ran quickly; generously generalizations.", "run runner runs quick general"),
        ("It cost $2.5 million in 2010-11, up 3.7%.", "The 2.5 million cost rose 3.7 per cent in 2010."),
        ("Email: john.doe@example.com, web: www.cnn.com/2015/04/01.", "Contact john doe at example.com"),
        ("İstanbul and İzmir had 5 \u212a readings.", "Istanbul and Izmir; 5 K readings."),
        ("Café naïve résumé über Straße", "Cafe naive resume uber Strasse"),
        ("東京 2020 Olympics 😀 were held in 2021.", "Tokyo 2020 Olympics were held in 2021 ✓"),
        ("Non\u00a0breaking\u2009spaces and\u200bzero width.", "Non breaking spaces and zero width."),
        ("“Curly quotes,” he said. ‘Single ones’ too.", '"Curly quotes," he said. \'Single ones\' too.'),
        ("«Guillemets» — and em–dashes… too.", "Guillemets and em dashes too."),
        ("Mr. Smith went to Washington. He arrived at 5 p.m. The meeting ended.",
         "Mr. Smith arrived in Washington at 5 p.m. for a meeting."),
        ("The U.S. Army said it would act. Officials in the U.S. Officials said more.",
         "U.S. officials said the Army would act."),
        ('He said: "Stop!" Then he left. (Sent one.) Sent two.', 'He said "stop" and left.'),
        ("Wait... What? No! Really?! Yes!!", "Wait. What? No. Really? Yes."),
        ("J. K. Rowling wrote it. Sen. John McCain, R-Ariz., agreed. Gen. David Petraeus spoke.",
         "J.K. Rowling wrote a book. McCain agreed."),
        ("It was No. 1 in 2010. then it fell to No. 3. In 2012 it rose.", "It was number one in 2010."),
        ("Items cost $5.99. Others cost more. e.g. this and i.e. that.", "Items cost 5.99 dollars."),
        ("Line one\nLine two. Line three.\n\nLine four", "Line one. Line two.\nLine three. Line four."),
        ("  leading and trailing whitespace.  ", "\n leading and trailing whitespace \n"),
        ("a.b.c. d.e.f. The end . . . really. End.", "abc def the end really end"),
        ("--dash-- start. Then -- more -- text.", "dash start then more text"),
        ("He earned 1,000,000 dollars. 2,000 more followed. 3. Fourth point.", "He earned a million dollars."),
        ("The Rev. Dr. Martin Luther King Jr. spoke. He was 39.", "Martin Luther King Jr. spoke at 39."),
        ("repeat repeat repeat.\nrepeat repeat.\nrepeat.", "repeat.\nrepeat repeat.\nrepeat repeat repeat."),
        ("a b c d e f g.\ng f e d c b a.", "a b c d.\ne f g."),
        ("one two three four five", "five four three two one"),
        ("A 'quoted' word and \"another\" one.", "a quoted word and another one"),
        ("Tabs\tand\r\nwindows line endings.\r\n", "Tabs and windows line endings."),
        ("x" * 40 + " supercalifragilisticexpialidocious", "supercalifragilisticexpialidocious"),
        ("skies dying lying news innings outings proceed", "sky die lie news inning outing proceeds"),
        ("yyyy syzygy toy happy enjoy", "syzygi toi happi enjoy"),
        ("He said it was 'fine.' She disagreed.", "He said fine; she disagreed."),
    ]


def make_pairs(rows, rng):
    """(kind, prediction, reference) triples."""
    pairs = []
    n = len(rows)

    def article_sentences(i):
        return nltk.sent_tokenize(rows[i]["article"])

    def lead(i, k, max_chars=320):
        text = " ".join(article_sentences(i)[:k])
        return text[:max_chars].rsplit(" ", 1)[0] if len(text) > max_chars else text

    order = list(range(n))
    rng.shuffle(order)
    picks = iter(order * 2)

    for _ in range(120):  # lead sentences against the highlights as stored (newline-separated)
        i = next(picks)
        pairs.append(("lead", lead(i, rng.choice([2, 3])), rows[i]["highlights"]))
    for _ in range(55):  # against the highlights as decoded labels look (no newlines)
        i = next(picks)
        pairs.append(("lead_spaced", lead(i, 3), rows[i]["highlights"].replace("\n", " ")))
    for _ in range(120):  # perturbed highlights: a summary that is close but not equal
        i = next(picks)
        reference = rows[i]["highlights"]
        words = reference.replace("\n", " ").split(" ")
        op = rng.choice(["drop", "swap", "truncate", "case", "article_words", "repeat"])
        if op == "drop":
            words = [w for w in words if rng.random() > 0.25]
        elif op == "swap":
            for _ in range(max(1, len(words) // 5)):
                a = rng.randrange(len(words))
                b = min(len(words) - 1, a + 1)
                words[a], words[b] = words[b], words[a]
        elif op == "truncate":
            words = words[: rng.randint(1, max(1, len(words) - 1))]
        elif op == "case":
            words = [w.upper() if rng.random() < 0.5 else w.lower() for w in words]
        elif op == "article_words":
            extra = rows[i]["article"].split(" ")
            start = rng.randrange(max(1, len(extra) - 20))
            at = rng.randrange(len(words) + 1)
            words = words[:at] + extra[start : start + 12] + words[at:]
        else:
            words = words + words[: len(words) // 2]
        pairs.append((f"perturbed_{op}", " ".join(words), reference))
    for _ in range(75):  # an unrelated summary
        i, j = next(picks), next(picks)
        pairs.append(("other_row", rows[j]["highlights"].replace("\n", " "), rows[i]["highlights"]))
    for _ in range(45):  # the reference's sentences reordered, duplicated, or split differently
        i = next(picks)
        sentences = rows[i]["highlights"].split("\n")
        rng.shuffle(sentences)
        if rng.random() < 0.5:
            sentences.append(rng.choice(sentences))
        joiner = rng.choice(["\n", " "])
        pairs.append(("reordered", joiner.join(sentences), rows[i]["highlights"]))
    for _ in range(50):  # a window of article sentences against another window
        i = next(picks)
        sentences = article_sentences(i)
        a = rng.randrange(max(1, len(sentences) - 2))
        b = rng.randrange(max(1, len(sentences) - 2))
        pairs.append(("article_windows", " ".join(sentences[a : a + 2])[:300],
                      " ".join(sentences[b : b + 2])[:300]))
    for prediction, reference in edge_cases():
        pairs.append(("edge", prediction, reference))
    return pairs


def score_pair(scorer, prediction, reference):
    raw = scorer.score(reference, prediction)
    per_line = scorer.score(sentence_per_line(reference), sentence_per_line(prediction))
    for t in ["rouge1", "rouge2", "rougeL"]:
        # The recipe scores the sentence-per-line texts; splitting only ever happens at
        # punctuation, so the tokens, and these three scores, are those of the raw texts.
        assert raw[t] == per_line[t], (t, prediction, reference)
    return {
        "rouge1": list(raw["rouge1"]),
        "rouge2": list(raw["rouge2"]),
        "rougeL": list(raw["rougeL"]),
        "rougeLsum": list(per_line["rougeLsum"]),
        "rougeLsum_newlines": list(raw["rougeLsum"]),
    }, raw, per_line


def stem_words(rows):
    """Distinct words (rouge tokens before stemming) of the sample articles, and special cases."""
    words = set()
    for row in rows[:400]:
        words.update(rouge_tokens_unstemmed(row["article"]))
    rng = random.Random(7)
    sample = sorted(rng.sample(sorted(words), 3500))
    special = [
        "sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings", "outing",
        "cannings", "canning", "howe", "proceed", "exceed", "succeed", "ties", "dies", "cries",
        "lied", "tied", "died", "cried", "caresses", "ponies", "caress", "cats", "feed", "agreed",
        "plastered", "bled", "motoring", "sing", "conflated", "troubled", "sized", "hopping",
        "tanned", "falling", "hissing", "fizzed", "failing", "filing", "happy", "sky", "enjoy",
        "spy", "fly", "try", "by", "relational", "conditional", "rational", "valenci", "hesitanci",
        "digitizer", "conformabli", "radicalli", "differentli", "vileli", "analogousli",
        "vietnamization", "predication", "operator", "feudalism", "decisiveness", "hopefulness",
        "callousness", "formaliti", "sensitiviti", "sensibiliti", "triplicate", "formative",
        "formalize", "electriciti", "electrical", "hopeful", "goodness", "revival", "allowance",
        "inference", "airliner", "gyroscopic", "adjustable", "defensible", "irritant",
        "replacement", "adjustment", "dependent", "adoption", "homologou", "communism",
        "activate", "angulariti", "homologous", "effective", "bowdlerize", "probate", "rate",
        "cease", "controll", "roll", "generously", "generalizations", "fully", "beautifully",
        "analogi", "apology", "archaeology", "biology", "yyyy", "syzygy", "toy", "yay", "ayyy",
        "a", "an", "is", "it", "ed", "ing", "eed", "ies", "sses", "abcdefghijklmnopqrstuvwxyz",
        "2010s", "1990s", "4x4", "covid19", "mp3s", "b52s", "aaaa", "oing", "bing", "ying",
        "eying", "seeing", "agreement", "ment", "ion", "station", "question", "ization",
        "allied", "rallies", "tallied", "ally", "bally", "reply", "replies", "replied",
    ]
    return sorted(set(sample) | set(special))


def rouge_tokens_unstemmed(text):
    from rouge_score import tokenize

    return tokenize.tokenize(text, None)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        default=os.path.join(repo, "..", "shared", "data", "cnn_dm_sample", "cnn_dm_sample.jsonl"),
    )
    parser.add_argument("--out", default=os.path.join(repo, "tests", "fixtures", "rouge"))
    args = parser.parse_args()

    punkt_english.install()
    with open(args.data, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    os.makedirs(args.out, exist_ok=True)

    scorer = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)
    rng = random.Random(20240601)
    pairs = make_pairs(rows, rng)
    aggregator = scoring.BootstrapAggregator()
    raw_f1 = {t: [] for t in ["rouge1", "rouge2", "rougeL", "rougeLsum", "rougeLsum_newlines"]}
    with open(os.path.join(args.out, "rouge_pairs.jsonl"), "w", encoding="utf-8") as f:
        for kind, prediction, reference in pairs:
            scores, raw, per_line = score_pair(scorer, prediction, reference)
            aggregator.add_scores(per_line)
            for t in raw_f1:
                raw_f1[t].append(scores[t][2])
            record = {
                "kind": kind,
                "prediction": prediction,
                "reference": reference,
                "prediction_sentences": nltk_spans(prediction),
                "reference_sentences": nltk_spans(reference),
            }
            record.update({t: [float(f"{v:.12g}") for v in s] for t, s in scores.items()})
            f.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")

    np.random.seed(0)
    mid = aggregator.aggregate()
    corpus = {
        "pairs": len(pairs),
        "mean_f1_x100": {t: float(np.mean(v)) * 100 for t, v in raw_f1.items()},
        "bootstrap_mid_f1_x100_numpy_seed0": {t: mid[t].mid.fmeasure * 100 for t in TYPES},
    }
    with open(os.path.join(args.out, "rouge_corpus.json"), "w", encoding="utf-8") as f:
        json.dump(corpus, f, indent=2)
        f.write("\n")

    stemmer = porter.PorterStemmer()
    with open(os.path.join(args.out, "porter_stems.tsv"), "w", encoding="utf-8") as f:
        for word in stem_words(rows):
            f.write(f"{word}\t{stemmer.stem(word)}\n")

    with open(os.path.join(args.out, "punkt_sample_splits.tsv"), "w", encoding="utf-8") as f:
        for row_index, row in enumerate(rows):
            for kind, text in [
                ("highlights_spaced", row["highlights"].replace("\n", " ")),
                ("highlights", row["highlights"]),
                ("article", row["article"]),
            ]:
                spans = byte_spans(text, nltk.tokenize._get_punkt_tokenizer("english").span_tokenize(text))
                fields = [kind, str(row_index), str(len(spans)), spans_signature(spans)]
                if kind == "highlights_spaced":
                    fields.append(" ".join(f"{b}:{e}" for b, e in spans))
                f.write("\t".join(fields) + "\n")
    print(f"wrote {args.out}: {len(pairs)} pairs, corpus {corpus['mean_f1_x100']}")


if __name__ == "__main__":
    main()
