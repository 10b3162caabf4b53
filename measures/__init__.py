"""Class measures of formative-assessment use and digital collaboration (PRODUCT.md §4).

Entry points: ``frames.frames_from_store`` (input), ``results.compute_results`` (every measure, scope and
period, already through ``disclosure``), ``materialise.recompute`` / ``read_class_figures`` (the store),
``report`` and ``export`` (outputs), ``cli.cli_measures`` / ``cli.cli_export`` (the command line).
"""
