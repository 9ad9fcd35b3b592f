// The whitening of DESIGN.md §1.1 step 5 as a trainable layer, initialised from a PCA-whitening
// (the paper's "good initialisation") and written back to the engine's Whitening format once
// trained, so the engine applies the learned layer exactly as it applies a PCA one.
//
// The layer is the shift + FC x ↦ P (x − μ). It is learned as y = A · P₀ (x − μ₀) + b, with P₀ and
// μ₀ the initial PCA, A (D × D) starting at the identity and b (D) at zero: the same layers, but
// every learned number lives in the whitened space, on one scale. That matters to Adam, which
// moves every entry by about the learning rate whatever its size: P₀'s rows differ in scale by
// the square roots of the eigenvalue ratios (a factor of 20 and more), and μ's entries are about
// 1/√C (0.035 for 816 channels), so learning P and μ directly scrambled the high-variance rows and
// shifted every region vector by more than its own length within a hundred steps (measured: all
// photos collapsed onto one descriptor). Exported, b becomes a shift of μ: μ = μ₀ − Pᵀ(PPᵀ)⁻¹ b.
import * as tf from '@tensorflow/tfjs';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import type { Whitening } from '../engine/whitening.js';
import { whitenRows, type WhiteningParameters } from './differentiableRmac.js';

/**
 * `full`: A is any D × D matrix. `diagonal`: A only rescales P₀'s components (D numbers instead of
 * D², for training sets with few classes).
 */
export type WhiteningForm = 'full' | 'diagonal';

export class LearnableWhitening implements WhiteningParameters {
  private constructor(
    /** b, D. */
    readonly bias: tf.Variable<tf.Rank.R1>,
    /** A, D × D, or its diagonal [D] for the `diagonal` form. */
    readonly mixing: tf.Variable,
    /** μ₀, C, fixed. */
    private readonly initialMean: tf.Tensor1D,
    /** P₀, D × C, fixed. */
    private readonly initialProjection: tf.Tensor2D,
    private readonly initial: Whitening,
  ) {}

  static fromWhitening(w: Whitening, form: WhiteningForm = 'full', name = 'whitening'): LearnableWhitening {
    const suffix = uniqueSuffix();
    const bias = tf.variable(tf.zeros([w.dim]) as tf.Tensor1D, true, `${name}/bias_${suffix}`);
    const mixing = tf.variable(form === 'full' ? tf.eye(w.dim) : tf.ones([w.dim]), true, `${name}/mixing_${suffix}`);
    return new LearnableWhitening(bias, mixing, tf.tensor1d(w.mean), tf.tensor2d(w.projection, [w.dim, w.channels]), w);
  }

  whiten(rows: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const y = whitenRows(rows, this.initialMean, this.initialProjection);
      const mixed = this.mixing.rank === 1 ? tf.mul(y, this.mixing) : tf.matMul(y, this.mixing as tf.Tensor2D, false, true);
      return tf.add(mixed, this.bias);
    });
  }

  /** P = A · P₀, D × C. */
  projection(): tf.Tensor2D {
    return tf.tidy(() => (this.mixing.rank === 1
      ? tf.mul(this.initialProjection, this.mixing.reshape([this.dim, 1]))
      : tf.matMul(this.mixing as tf.Tensor2D, this.initialProjection)));
  }

  get channels(): number {
    return this.initial.channels;
  }

  get dim(): number {
    return this.initial.dim;
  }

  get variables(): tf.Variable[] {
    return [this.bias, this.mixing];
  }

  /** The current values as an engine Whitening; eigenvalues are those of the PCA it started from. */
  async toWhitening(fittedOn: string): Promise<Whitening> {
    const projection = this.projection();
    const values = Float32Array.from(await projection.data());
    projection.dispose();
    const bias = await this.bias.data();
    const { dim, channels } = this.initial;
    // μ = μ₀ − Pᵀ z with (P Pᵀ) z = b, so that P (x − μ) = P (x − μ₀) + b.
    const p = new Matrix(dim, channels);
    for (let k = 0; k < dim; k++) for (let c = 0; c < channels; c++) p.set(k, c, values[k * channels + c]);
    const z = new CholeskyDecomposition(p.mmul(p.transpose())).solve(Matrix.columnVector(Array.from(bias)));
    const shift = p.transpose().mmul(z);
    const mean = Float32Array.from(this.initial.mean, (m, c) => m - shift.get(c, 0));
    return {
      ...this.initial,
      mean,
      projection: values,
      eigenvalues: Float64Array.from(this.initial.eigenvalues),
      fittedOn,
    };
  }

  dispose(): void {
    this.bias.dispose();
    this.mixing.dispose();
    this.initialMean.dispose();
    this.initialProjection.dispose();
  }
}

let counter = 0;

/** TF.js variable names must be unique per process; several trainings may run in one (tests, the bench). */
export function uniqueSuffix(): string {
  return String(counter++);
}
