"""fastai callbacks: MixUp/CutMix for several targets, SWA and EMA."""
