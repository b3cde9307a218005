// The names by which an experiment's output is read back: the files each experiment writes
// into its output directory, the columns of its tables and the keys of its summary.json that
// the report (src/report) draws from. The experiments write by these names and the report
// reads by them, so renaming one renames both, and removing one fails the build, not a
// figure. Keys and columns only people read stay spelt out where they are written.
#pragma once

namespace resdyn::run_files {

// Every experiment writes summary.json; tools/paper_runs.sh adds command.txt, the command
// line that filled the directory.
inline constexpr char summary[] = "summary.json";
inline constexpr char command[] = "command.txt";
// `resdyn train` logs a model's epochs beside it, in MODEL + this.
inline constexpr char epoch_log_suffix[] = ".csv";
// The first column of every per-class table: the class, 0..9.
inline constexpr char class_column[] = "class";

// Summary keys that several experiments write with the same meaning.
namespace key {
inline constexpr char depth[] = "depth";  // the layers the experiment ran
inline constexpr char samples_per_class[] = "samples_per_class";
inline constexpr char precision[] = "precision";  // of the float net's products: "fp32" or "bf16"
}  // namespace key

// The metadata lines ("key: value") of a model file that the report reads (written by
// `resdyn train`).
namespace model_metadata {
inline constexpr char command[] = "command";        // the command line that trained it
inline constexpr char test_error[] = "test_error";  // a fraction
inline constexpr char epochs[] = "epochs";
inline constexpr char train_seconds[] = "train_seconds";  // --fixed-point only
}  // namespace model_metadata

// The columns of that epoch log the report draws (written by `resdyn train`).
namespace epoch_log {
inline constexpr char epoch[] = "epoch";
inline constexpr char train_loss[] = "train_loss";
inline constexpr char test_error[] = "test_error";  // a fraction
inline constexpr char depth[] = "depth";            // with adaptive depth only, as is the next
inline constexpr char convergence_d[] = "convergence_d";
}  // namespace epoch_log

namespace dynamics {
inline constexpr char trajectory_stats[] = "trajectory_stats.csv";
inline constexpr char final_profile[] = "final_profile.csv";
inline constexpr char sensitive_neurons[] = "sensitive_neurons.csv";
inline constexpr char distance_matrix[] = "distance_matrix.csv";
inline constexpr char cosine_matrix[] = "cosine_matrix.csv";
namespace column {
inline constexpr char layer[] = "layer";
inline constexpr char mean[] = "mean";
inline constexpr char spread[] = "spread";
inline constexpr char neuron[] = "neuron";
inline constexpr char stddev[] = "std";
inline constexpr char neuron_class[] = "neuron_class";
inline constexpr char mean_y[] = "mean_y";
inline constexpr char mean_x[] = "mean_x";
}  // namespace column
namespace key {
inline constexpr char test_error[] = "test_error";
inline constexpr char sensitive_neuron_rule_classes[] = "sensitive_neuron_rule_classes";
inline constexpr char distance_diag_min_rows[] = "distance_diag_min_rows";
inline constexpr char cosine_diag_max_rows[] = "cosine_diag_max_rows";
inline constexpr char cosine_contrast[] = "cosine_contrast";
inline constexpr char first_layer_spread_below[] = "first_layer_spread_below_1e-3";
}  // namespace key
}  // namespace dynamics

namespace noise {
inline constexpr char curve[] = "noise.csv";
namespace column {
inline constexpr char amplitude[] = "amplitude";
// Each measure has a column MEASURE + mean_suffix and one MEASURE + std_suffix.
inline constexpr char ratio[] = "ratio";
inline constexpr char cosine[] = "cosine";
inline constexpr char error[] = "error";
inline constexpr char mean_suffix[] = "_mean";
inline constexpr char std_suffix[] = "_std";
}  // namespace column
namespace key {
inline constexpr char clean_error[] = "clean_error";
inline constexpr char a10[] = "a10";
}  // namespace key
}  // namespace noise

namespace spectrum {
inline constexpr char eigenvalues[] = "eigenvalues.csv";
namespace column {
inline constexpr char which[] = "which";  // one of the Jacobians below
inline constexpr char real[] = "real";
inline constexpr char imag[] = "imag";
}  // namespace column
namespace key {
inline constexpr char unroll[] = "unroll";
inline constexpr char classes[] = "classes";  // an array of one object per class:
inline constexpr char class_label[] = "class";
// the ODE Jacobian's and the layer map's (also the names in column `which`), each an object of
inline constexpr char ode[] = "ode";
inline constexpr char layer_map[] = "layer_map";
inline constexpr char positive_real[] = "positive_real";
inline constexpr char largest_real[] = "largest_real";
inline constexpr char spectral_radius[] = "spectral_radius";
// Exact fixed points (Newton from each sample's y(T')): an object with the settings and
// `classes`, one object per class of the keys below; per-sample rows in fixed_points.csv.
inline constexpr char fixed_points[] = "fixed_points";
inline constexpr char converged[] = "converged";
inline constexpr char failed[] = "failed";
inline constexpr char distinct[] = "distinct";
inline constexpr char unstable_fraction[] = "unstable_fraction";
inline constexpr char max_residual[] = "max_residual";
}  // namespace key
inline constexpr char fixed_points[] = "fixed_points.csv";
}  // namespace spectrum

namespace sensitivity {
inline constexpr char curves[] = "sensitivity.csv";
namespace column {
inline constexpr char layer[] = "s";  // the perturbed layer
inline constexpr char mean_log10_det[] = "mean_log10_det";
inline constexpr char std_log10_det[] = "std_log10_det";
inline constexpr char mean_logit_change[] = "mean_logit_change";
inline constexpr char se_logit_change[] = "se_logit_change";
}  // namespace column
namespace key {
inline constexpr char log10_det_ratio_4_10[] = "log10_det_ratio_4_10";
inline constexpr char logit_change_ratio_4_10[] = "logit_change_ratio_4_10";
}  // namespace key
}  // namespace sensitivity

namespace embed {
inline constexpr char embedding[] = "embedding.csv";
namespace column {
inline constexpr char x[] = "x";
inline constexpr char y[] = "y";
}  // namespace column
namespace key {
inline constexpr char knn10_agreement[] = "knn10_agreement";
inline constexpr char trustworthiness[] = "trustworthiness";
}  // namespace key
}  // namespace embed

}  // namespace resdyn::run_files
