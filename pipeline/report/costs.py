"""The cost section: each stage's compute and energy (metrics/<stage>.json "cost", written by
pipeline/cost.py around every stage run), summed per stage, per model and in total."""
from __future__ import annotations

SUMMED = ("wall_time_s", "cpu_time_s", "gpu_time_s", "flops", "energy_kwh", "co2e_kg")
DATA_STAGES = ("ingest", "curate", "validate", "tokenizer")  # the corpus every model shares


def add(rows: list[dict], share: float = 1.0) -> dict:
    """The SUMMED fields of `rows`, each scaled by `share` (flops: None where no row has any)."""
    total = {}
    for key in SUMMED:
        values = [r[key] for r in rows if r.get(key) is not None]
        total[key] = round(sum(values) * share, 9) if values else None
    return total


def cost_summary(stages: dict[str, dict], glue: dict | None = None) -> dict:
    """{"by_stage": {stage: cost}, "by_model": {...}, "total": cost, "method"}.

    by_model: the corpus (the data stages) is shared and listed once as "corpus"; pretraining
    belongs to the pipeline's model; fine-tuning's time and energy are split between the model
    kinds by the share of the stage's time each took (finetune records seconds per model kind),
    and its FLOPs are each model's own (glue.json's per-task "flops"), so a model's row is what
    it cost to fine-tune and score it, plus its pretraining."""
    by_stage = {s: m["cost"] for s, m in stages.items() if m.get("cost")}
    by_model = {"corpus": add([by_stage[s] for s in DATA_STAGES if s in by_stage])}
    times = (stages.get("finetune") or {}).get("time_s") or {}
    finetune = by_stage.get("finetune")
    for model, seconds in times.items():
        share = seconds / sum(times.values()) if sum(times.values()) else 0.0
        own = [by_stage["pretrain"]] if model == "pipeline" and "pretrain" in by_stage else []
        tuned = add([finetune], share) if finetune else {}
        task_flops = [t.get("flops") for t in ((glue or {}).get("models", {}).get(model, {}).get("tasks", {})).values()]
        tuned["flops"] = sum(f for f in task_flops if f) or None
        by_model[model] = add([add(own), tuned])
    methods = sorted({c.get("energy_method") for c in by_stage.values() if c.get("energy_method")})
    return {"by_stage": by_stage, "by_model": by_model, "total": add(list(by_stage.values())), "method": methods}
