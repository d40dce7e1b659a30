"""Tokenizer sizing: vocabulary size and algorithm chosen by measurement (issue 13, item 4).

A sample of the pretraining corpora (Project Gutenberg books, the Wikipedia extract and
Wikinews, read by the pipeline's own readers) trains each candidate with the pipeline's own
tokenizer code. For each one it measures:
- bytes per token on held-out corpus text (more bytes per token: more text per training step);
- fertility on GLUE (tokens per whitespace word over the six tasks' train sentences), the text
  fine-tuning sees; BERT's WordPiece sits near 1.2-1.3 on English;
- the share of a model's parameters its embedding table takes, for the default (4x256) and the
  cpu-1h (6x384) shapes: past ~40% the vocabulary crowds out the network at these sizes.

Prints a table and writes bench/results/tokenizer_sizing.json. Usage:
    python bench/tokenizer_sizing.py [--train-chars 20000000] [--vocab 4096 8192 16384 32768]
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from conftest import shared_data_dir  # noqa: E402

from pipeline.ingest.gutenberg import GutenbergReader  # noqa: E402
from pipeline.ingest.wikiextractor import WikiextractorReader  # noqa: E402
from pipeline.tokenizer import train as toktrain  # noqa: E402
from pipeline.tokenizer.config import Config  # noqa: E402
from pipeline.tokenizer.corpus import is_validation  # noqa: E402

GLUE_TEXT = {"CoLA": [3], "SST-2": [0], "MRPC": [3, 4], "STS-B": [7, 8], "RTE": [1, 2], "WNLI": [1, 2]}
# (hidden, layers, intermediate) of the default and cpu-1h ModernBERT shapes (pipeline/pretrain/model.py)
SHAPES = {"default 4x256": (256, 4, 704), "cpu-1h 6x384": (384, 6, 1024)}  # GeGLU: 8/3 h, to 64


def corpus_sample(data: Path, chars_per_source: int) -> dict[str, list[tuple[str, str]]]:
    """(id, text) per source, up to chars_per_source each, in file order."""
    readers = {
        "gutenberg": GutenbergReader(sorted((data / "gutenberg").glob("*/*.txt.xz")), source="gutenberg"),
        "wiki_extract": WikiextractorReader(sorted((data / "wikipedia/extracted").glob("*/*/wiki_*.bz2")),
                                            source="wiki_extract", lang="en"),
        "wikinews": WikiextractorReader(sorted((data / "wikinews").glob("*/*/wiki_*.bz2")),
                                        source="wikinews", lang="en"),
    }
    out = {}
    for name, reader in readers.items():
        docs, size = [], 0
        for doc in reader.run():
            docs.append((doc.id, doc.text))
            size += len(doc.text)
            if size >= chars_per_source:
                break
        out[name] = docs
    return out


def glue_sentences(data: Path) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    out = []
    for task, columns in GLUE_TEXT.items():
        with open(data / "glue" / task / "train.tsv", encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        body = rows if task == "CoLA" else rows[1:]  # CoLA's train has no header
        out += [r[c] for r in body for c in columns if len(r) > c and r[c].strip()]
    return out


def embedding_share(vocab: int, hidden: int, layers: int, intermediate: int) -> float:
    """Tied input/output embedding over all parameters (attention 4h^2, GeGLU MLP 3*h*i per layer)."""
    embed = vocab * hidden
    return embed / (embed + layers * (4 * hidden * hidden + 3 * hidden * intermediate))


def measure(algorithm: str, vocab: int, train_texts: list[str], held_out: list[str], glue: list[str]) -> dict:
    cfg = Config(algorithm=algorithm, vocab_size=vocab)
    start = time.perf_counter()
    tok = toktrain.train(cfg, iter([train_texts]))
    seconds = time.perf_counter() - start
    held_tokens = sum(len(e.ids) for e in tok.encode_batch(held_out, add_special_tokens=False))
    glue_tokens = sum(len(e.ids) for e in tok.encode_batch(glue, add_special_tokens=False))
    row = {"algorithm": algorithm, "vocab": tok.get_vocab_size(), "train_s": round(seconds, 1),
           "bytes_per_token": round(sum(len(t.encode()) for t in held_out) / held_tokens, 3),
           "glue_fertility": round(glue_tokens / sum(len(s.split()) for s in glue), 3)}
    for name, shape in SHAPES.items():
        row[f"embedding_share {name}"] = round(embedding_share(tok.get_vocab_size(), *shape), 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-chars", type=int, default=20_000_000, help="tokenizer training sample (chars)")
    parser.add_argument("--vocab", type=int, nargs="+", default=[4096, 8192, 16384, 32768])
    parser.add_argument("--algorithms", nargs="+", default=["bpe", "unigram", "wordpiece"])
    args = parser.parse_args()
    data = shared_data_dir()
    # Each source gives a third of the sample, plus 10% more for the held-out split.
    sample = corpus_sample(data, int(args.train_chars / 3 * 1.1))
    train_texts = [t for docs in sample.values() for i, t in docs if not is_validation(i, 0.1)]
    held_out = [t for docs in sample.values() for i, t in docs if is_validation(i, 0.1)]
    glue = glue_sentences(data)
    print(f"sample: {sum(map(len, train_texts)) / 1e6:.1f} M chars to train, "
          f"{sum(map(len, held_out)) / 1e6:.1f} M held out; {len(glue)} GLUE train sentences", flush=True)
    rows = []
    for algorithm in args.algorithms:
        for vocab in args.vocab:
            rows.append(measure(algorithm, vocab, train_texts, held_out, glue))
            print(rows[-1], flush=True)
    cols = list(rows[0])
    print("\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in rows:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    out = REPO / "bench" / "results" / "tokenizer_sizing.json"
    out.write_text(json.dumps({"train_chars": sum(map(len, train_texts)), "held_out_chars": sum(map(len, held_out)),
                               "sources": {k: len(v) for k, v in sample.items()}, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
