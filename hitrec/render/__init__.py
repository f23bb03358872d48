"""Rendering: a timeline (hitrec.timeline) -> plan -> an engine writes the piece.

    plan.py            resolve fragments (a Resolver: the repo, or fixed inputs), place every clip,
                       normalize the timeline stored in a remix
    engine.py          the Engine protocol, get_engine, render_plan (atomic output)
    ffmpeg_engine.py   the default engine: one ffmpeg filter graph, deterministic output
    moviepy_engine.py  the reference engine (moviepy + pydub), for cross-checking and benchmarks
    scratch.py         scratch folders and .part files, locked while alive; a dead render's are removed

The operations (render, remix, verify) are in hitrec/ops/.
"""
