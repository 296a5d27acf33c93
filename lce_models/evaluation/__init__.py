"""Quality as the papers measure it: PSNR / SSIM, the benchmark protocol of each task, and
side-by-side comparison figures."""
