// The ranking loss of DESIGN.md §1.3 on L2-normalised descriptors:
// L(q, d⁺, d⁻) = ½ · max(0, m + ‖q − d⁺‖² − ‖q − d⁻‖²).
import * as tf from '@tensorflow/tfjs';

export const DEFAULT_MARGIN = 0.1;

/** One loss per triplet ([T]); q, positive and negative are [T, D] rows. */
export function tripletLosses(q: tf.Tensor2D, positive: tf.Tensor2D, negative: tf.Tensor2D, margin = DEFAULT_MARGIN): tf.Tensor1D {
  return tf.tidy(() => {
    const toPositive = tf.sum(tf.squaredDifference(q, positive), 1);
    const toNegative = tf.sum(tf.squaredDifference(q, negative), 1);
    return tf.mul(0.5, tf.relu(tf.add(margin, tf.sub(toPositive, toNegative)))) as tf.Tensor1D;
  });
}

/** The mean over the batch: what the optimiser minimises. */
export function tripletLoss(q: tf.Tensor2D, positive: tf.Tensor2D, negative: tf.Tensor2D, margin = DEFAULT_MARGIN): tf.Scalar {
  return tf.tidy(() => tf.mean(tripletLosses(q, positive, negative, margin)) as tf.Scalar);
}

/** The same loss for one triplet in plain numbers: the reference the tests hold the TF.js one to. */
export function tripletLossOf(q: ArrayLike<number>, positive: ArrayLike<number>, negative: ArrayLike<number>, margin = DEFAULT_MARGIN): number {
  let dp = 0;
  let dn = 0;
  for (let i = 0; i < q.length; i++) {
    dp += (q[i] - positive[i]) ** 2;
    dn += (q[i] - negative[i]) ** 2;
  }
  return 0.5 * Math.max(0, margin + dp - dn);
}
