"""The applications beside GLUE: named-entity recognition, extractive QA, summarization and
translation, one DVC stage each (pipeline/ner, pipeline/qa, pipeline/summarization,
pipeline/translation). This package holds what the four share:

    common.py    model rows (pipeline / random-init floor / off-the-shelf / baseline), the data
                 slice and fine-tuning settings, and `run_models`, which trains and scores every
                 row, resumes after a kill, and writes the outputs all four stages lay out alike
    files.py     opening a data file in any compression, with one-line errors naming it, and
                 `recorded`: a data path as the outputs record it (under data_root)
    hf.py        the HF `datasets` layouts beside the text files: parquet, save_to_disk, hub

Every stage writes, under its paths.<app> directory:
    <model>/predictions.jsonl   one line per evaluation example: id, input, reference, prediction
    <model>/result.json         that row's metrics and wall time (kept for resuming)
    table.md                    the report card's table for the application
    config.yaml                 the resolved Config
and plots/<app>.csv (model, metric, score) for `dvc plots`; its metrics/<app>.json is run()'s dict.
"""
