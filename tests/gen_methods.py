"""test_methods uses the fixture checkpoints converted the same way as test_engine."""
import os, runpy, sys
here = os.path.dirname(os.path.abspath(__file__))
sys.argv = [sys.argv[0], sys.argv[1]]
runpy.run_path(os.path.join(here, "gen_engine.py"), run_name="__main__")
