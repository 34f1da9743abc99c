"""tools/mamba_scan.py: the chunked scan's passes (torch backend, the same steps as the Triton kernels) give the
reference scan's output and every gradient; shapes outside the chunk grid are padded exactly; train_demo's scan
selection falls back when the Triton backend is unusable (no CUDA / no Triton here)."""
import os
import sys
import unittest

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import mamba_scan as M  # noqa: E402
import train_demo as T  # noqa: E402


class ChunkedScan(unittest.TestCase):
    def test_matches_reference(self):
        scan = M.make_scan("torch", T=8, BD=4)
        errs = M.check_against_reference(scan, [(2, 8, 32, 4), (1, 12, 64, 16), (3, 4, 8, 2)], "cpu", tol=1e-5)
        self.assertEqual(len(errs), 3)
        for e in errs.values():
            self.assertLess(max(e.values()), 1e-5)

    def test_the_check_catches_a_wrong_scan(self):
        scan = M.make_scan("torch", T=8, BD=4)

        def wrong(u, dt, A, Bm, Cm, chunk=16):  # drops the first step's input
            return scan(u, dt.index_fill(2, torch.tensor([0]), 0.0), A, Bm, Cm, chunk)

        with self.assertRaises(AssertionError):
            M.check_against_reference(wrong, [(1, 8, 16, 4)], "cpu")

    def test_off_grid_shapes_are_padded_exactly(self):
        # L not a multiple of T, D not a multiple of BD, N not a power of two, L = 1: padded, same results
        scan = M.make_scan("torch", T=8, BD=4)
        errs = M.check_against_reference(scan, [(2, 8, 30, 4), (1, 6, 16, 4), (2, 5, 13, 12), (1, 3, 1, 5)], "cpu", tol=1e-5)
        self.assertEqual(len(errs), 4)
        for e in errs.values():
            self.assertLess(max(e.values()), 1e-5)

    def test_selection_falls_back_without_cuda(self):
        if torch.cuda.is_available():
            self.skipTest("CUDA present")
        self.assertEqual(T.select_scan("triton"), "eager")
        self.assertIn("failed", T.SCAN)
        self.assertEqual(T.select_scan("auto"), "eager")


if __name__ == "__main__":
    unittest.main()
