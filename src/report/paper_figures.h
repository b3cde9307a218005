// One function per figure of the paper, each drawn from our own runs (report/runs_layout.h):
// figures 1A–D (the workshop version's figure 1), 2A–C, 3A–B, 4A–B, 5A–D, 6A–C of the full
// paper, and the spectra, sensitivity, pruning and training curves its text describes.
// A figure whose runs are missing comes back undrawn, saying what to run.
#pragma once

#include <vector>

#include "report/figure.h"

namespace resdyn::report {

// Transient dynamics (resdyn dynamics), figures_dynamics.cpp.
Figure figure_1a(FigureContext& context);  // class-mean residual over layers, shared ResNet
Figure figure_1b(FigureContext& context);  // spread of the residuals over layers
Figure figure_1c(FigureContext& context);  // trajectory distance matrix
Figure figure_2a(FigureContext& context);  // mean ± spread, shared ResNet unrolled to 1000 layers
Figure figure_2b(FigureContext& context);  // the same, per-layer ResNet
Figure figure_2c(FigureContext& context);  // the same, MLP (unrolled when run so)
Figure figure_3a(FigureContext& context);  // residuals y of the most class-sensitive neurons
Figure figure_3b(FigureContext& context);  // their cumulative signals x
Figure figure_5a(FigureContext& context);  // final-layer mean residual per class and neuron, ResNet
Figure figure_5b(FigureContext& context);  // ... its standard deviation
Figure figure_5c(FigureContext& context);  // final-layer mean, MLP
Figure figure_5d(FigureContext& context);  // ... its standard deviation
Figure figure_6b(FigureContext& context);  // cosine similarity of final states, ResNet
Figure figure_6c(FigureContext& context);  // ... MLP

// Embeddings (resdyn embed), figures_embedding.cpp.
Figure figure_1d(FigureContext& context);  // t-SNE of the final cumulative signal x(T)
Figure figure_6a(FigureContext& context);  // UMAP of the residual trajectories

// Noise robustness (resdyn noise), figures_noise.cpp.
Figure figure_4a(FigureContext& context);           // noise-to-signal ratio against amplitude
Figure figure_4b(FigureContext& context);           // cosine similarity of clean and noisy final states
Figure figure_noise_error(FigureContext& context);  // test error against amplitude (a10)

// Linear analysis (resdyn spectrum, resdyn sensitivity), figures_linear.cpp.
Figure figure_spectra(FigureContext& context);
Figure figure_fixed_points(FigureContext& context);  // per sample: Newton's fixed point, its largest real part
Figure figure_sensitivity(FigureContext& context);

// Training logs (resdyn train's MODEL.csv), figures_training.cpp.
Figure figure_training(FigureContext& context);
Figure figure_pruning(FigureContext& context);

// Every figure above, in the order the page shows them.
std::vector<Figure> draw_all_figures(FigureContext& context);

}  // namespace resdyn::report
