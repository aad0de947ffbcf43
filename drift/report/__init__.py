"""`drift report`: periodic drift reports over an engine's containers and images, with history.

targets.py (choosing) -> scan.py (one target, compared) -> states.py (between runs) ->
run.py (one run, recorded through drift.store) -> doc.py (drift.report/v1) -> drift.render.report_*
"""
