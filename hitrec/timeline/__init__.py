"""Timelines: the one model, its codecs and its normalized form (the format: docs/timeline.md).

    model.py       Timeline, Output, Credits, Track, Clip, Transition; the format's keys and limits
    yaml_codec.py  the ``hitrec: 1`` YAML: load with file:line:field errors, dump the model back
    normalize.py   the normalized form stored in a remix (full ids, explicit ``at`` and ``duration``)
    otio_codec.py  the second codec: the model <-> OpenTimelineIO objects (docs/otio.md; imported lazily)
    otio_formats.py  OTIO's file formats and adapters by extension, and what each cannot carry

Render
(:mod:`hitrec.render.plan`) and credits (:mod:`hitrec.credits.graph`) both read timelines only here.
"""

from hitrec.timeline.model import Clip, Output, Timeline, Track, Transition
from hitrec.timeline.normalize import normalize
from hitrec.timeline.yaml_codec import dump_timeline, load_timeline, parse_timeline

__all__ = ["Clip", "Output", "Timeline", "Track", "Transition", "dump_timeline", "load_timeline",
           "normalize", "parse_timeline"]
