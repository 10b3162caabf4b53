import gc

from pli_pulse.gc_pause import fewer_gc_passes


def test_a_run_freezes_the_heap_and_raises_the_young_threshold_then_restores_both():
    before = gc.get_threshold()
    with fewer_gc_passes(gen0_threshold=before[0] + 1000):
        assert gc.get_threshold() == (before[0] + 1000, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_runs_restore_the_settings_only_when_the_last_one_ends():
    before = gc.get_threshold()
    outer, inner = fewer_gc_passes(gen0_threshold=before[0] + 1000), fewer_gc_passes(gen0_threshold=before[0] + 5)
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first run ends while the second is still going
    assert gc.get_threshold()[0] == before[0] + 1000
    assert gc.get_freeze_count() > 0
    inner.__exit__(None, None, None)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_are_restored_when_the_run_fails():
    before = gc.get_threshold()
    try:
        with fewer_gc_passes():
            raise RuntimeError("Graph went away")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_runs_on_two_threads_restore_the_settings_only_when_the_last_one_ends():
    import threading

    before = gc.get_threshold()
    inside, release = threading.Barrier(2), threading.Event()

    def run():
        with fewer_gc_passes(gen0_threshold=before[0] + 1000):
            inside.wait()
            release.wait()

    worker = threading.Thread(target=run)
    worker.start()
    with fewer_gc_passes(gen0_threshold=before[0] + 1000):
        inside.wait()  # both runs are inside
    assert gc.get_threshold()[0] == before[0] + 1000  # the worker's run still holds the settings
    release.set()
    worker.join()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
