"""The one table of benches/run: every comparison's headline numbers, driftloop beside its
reference, from the JSON lines the bench scripts append with `--summary FILE`.

A script calls `record(path, ...)` once per headline; `python benches/summary.py FILE`
prints the table. Nothing here measures anything."""

import json
import sys


def record(path, comparison, measure, driftloop, reference, reference_value, higher_is_better, unit=""):
    """Appends one headline to the summary file (no-op when the script runs without --summary)."""
    if not path:
        return
    row = {"comparison": comparison, "measure": measure, "unit": unit, "driftloop": driftloop,
           "reference": reference, "reference_value": reference_value, "higher_is_better": higher_is_better}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def number(value, unit):
    if value is None:
        return "—"
    if unit == "s" or unit == "ms":
        text = f"{value:,.3f}" if value < 10 else f"{value:,.1f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {unit}".strip()


def verdict(row):
    """driftloop's advantage as one factor: > 1 means driftloop is better on this measure."""
    ours, theirs = row["driftloop"], row["reference_value"]
    if ours is None or theirs is None or ours == 0 or theirs == 0:
        return "—"
    factor = ours / theirs if row["higher_is_better"] else theirs / ours
    return f"{factor:.1f}x better" if factor >= 1 else f"{1 / factor:.1f}x worse"


def table(rows):
    lines = ["| comparison | measure | driftloop | reference | reference's | driftloop vs reference |",
             "|---|---|---:|---|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['comparison']} | {row['measure']} | {number(row['driftloop'], row['unit'])} | "
                     f"{row['reference']} | {number(row['reference_value'], row['unit'])} | {verdict(row)} |")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python benches/summary.py SUMMARY.jsonl")
    with open(sys.argv[1], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    if not rows:
        sys.exit(f"{sys.argv[1]} holds no results: did every bench script fail?")
    print(table(rows))


if __name__ == "__main__":
    main()
