"""podcast-img2vid-pipeline: turn a static-image podcast video into an animated one.

The three steps talk through folders on disk; `layout` defines that contract once.
"""
