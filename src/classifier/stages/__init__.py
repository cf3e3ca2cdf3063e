"""The DVC pipeline's stages (dvc.yaml): each module is a thin `main` that reads params.yaml and its
inputs, calls the layers below, and writes its outputs."""
