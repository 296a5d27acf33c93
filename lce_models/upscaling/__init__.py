"""A whole photo through a runtime: the tile plan shared with the Android app, and stitching."""
