"""Importing llgrad changes nothing the user owns; llgrad's arithmetic keeps PyTorch's meaning
whatever NumPy's error state."""
import subprocess
import sys
import warnings

import numpy as np

import llgrad


def test_import_keeps_numpys_error_state_and_warnings():
    code = ("import numpy as np\nbefore = np.geterr()\nimport llgrad\n"
            "assert np.geterr() == before, (before, np.geterr())\n"
            "import warnings\nwith warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n    np.log(np.zeros(1))\n"
            "assert any(issubclass(x.category, RuntimeWarning) for x in w)\nprint('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_llgrad_ops_do_not_warn_on_inf_and_nan_arithmetic():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"llgrad(\.|$)")
        assert llgrad.tensor([0.0]).log().item() == float("-inf")


def test_a_raising_numpy_error_state_does_not_change_llgrad_results():
    with np.errstate(all="raise"):
        assert llgrad.tensor([0.0]).log().item() == float("-inf")
        assert np.isnan((llgrad.tensor([0.0]) / 0.0).item())
