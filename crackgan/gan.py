"""The GAN's trainable state and its compiled train step.

Holds both networks, their optimizers, the averaged (EMA) generator, the random
generator for latents and augmentation, the step counter and the augmentation
probability: everything a checkpoint must hold to continue a run exactly.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from crackgan.augment import augment, parse_policy
from crackgan.config import TrainConfig
from crackgan.convolutions import resolve_forms
from crackgan.models import LATENT_DIM, build_discriminator, build_generator

# The EMA decay ramps up as (1 + step) / (EMA_RAMP + step) so early, random weights
# do not dominate the average of a short run.
EMA_RAMP = 10.0


class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam whose dense updates are TensorFlow's fused ApplyAdam.

    Same variables, hyperparameters and arithmetic as Keras 3's Adam (so checkpoints
    of either load into the other), but one pass over each variable and its two
    moments instead of about ten element-wise ops, each a pass of its own. Sparse
    gradients (label embeddings) keep Keras' own update: it squares each row of an
    IndexedSlices before summing repeated rows into the second moment, and a fused
    dense update would square the sum.
    """

    def update_step(self, gradient: tf.Tensor, variable: keras.Variable,
                    learning_rate: tf.Tensor) -> None:
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            super().update_step(gradient, variable, learning_rate)
            return
        dtype = variable.dtype
        step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        beta1 = tf.cast(self.beta_1, dtype)
        beta2 = tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=self._momentums[index].handle,
            v=self._velocities[index].handle, beta1_power=tf.pow(beta1, step),
            beta2_power=tf.pow(beta2, step), lr=tf.cast(learning_rate, dtype),
            beta1=beta1, beta2=beta2, epsilon=tf.cast(self.epsilon, dtype),
            grad=tf.cast(gradient, dtype), use_locking=False)


def choose_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over every GPU, or every logical CPU when there is no GPU."""
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([device.name for device in gpus])
    if not gpus and len(cpus) > 1:
        return tf.distribute.MirroredStrategy([device.name for device in cpus])
    return tf.distribute.get_strategy()


def _inputs(images: tf.Tensor, labels: tf.Tensor,
            conditional: bool) -> list | tf.Tensor:
    return [images, labels] if conditional else images


class Gan:
    """Networks, optimizers, EMA generator, random state and the train step."""

    def __init__(self, config: TrainConfig, resolution: int, num_labels: int,
                 strategy: tf.distribute.Strategy) -> None:
        self.config = config
        self.strategy = strategy
        self.policy = parse_policy(config.augment)
        self.conditional = config.conditional
        labels = num_labels if config.conditional else 0
        with strategy.scope():
            self._build(resolution, labels)

    def _build(self, resolution: int, num_labels: int) -> None:
        """Create every variable under the strategy's scope."""
        config = self.config
        keras.utils.set_random_seed(config.seed)

        # Networks; batch norm in D only without a stabiliser that it disturbs.
        regroup = resolve_forms(config.conv_forms)
        self.generator = build_generator(resolution, config.g_width, num_labels,
                                         regroup=regroup)
        self.generator_ema = build_generator(resolution, config.g_width, num_labels,
                                             regroup=regroup)
        self.generator_ema.set_weights(self.generator.get_weights())
        self.discriminator = build_discriminator(
            resolution, config.d_width, num_labels,
            spectral_norm=config.d_reg == "sn", batch_norm=config.d_reg == "none",
            regroup=regroup,
        )

        # Optimizers, built now so a checkpoint can restore their moments.
        self.g_optimizer = self._optimizer(config.g_lr)
        self.d_optimizer = self._optimizer(config.d_lr)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

        # Random state, step counter and augmentation probability.
        self.rng = tf.random.Generator.from_seed(config.seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        initial_p = 0.0 if config.ada_target > 0 else 1.0
        self.augment_p = tf.Variable(initial_p, trainable=False, name="augment_p")

    def _optimizer(self, learning_rate: float) -> keras.optimizers.Optimizer:
        optimizer = FusedAdam(learning_rate, self.config.beta1, self.config.beta2)
        if self.config.mixed_precision:
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        return optimizer

    def checkpoint(self) -> tf.train.Checkpoint:
        """A tf.train.Checkpoint over every piece of state."""
        return tf.train.Checkpoint(
            generator=self.generator, generator_ema=self.generator_ema,
            discriminator=self.discriminator, g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer, rng=self.rng, step=self.step,
            augment_p=self.augment_p,
        )

    def _augment(self, images: tf.Tensor) -> tf.Tensor:
        probability = self.augment_p if self.config.ada_target > 0 else 1.0
        return augment(images, self.policy, self.rng, probability)

    def _discriminate(self, images: tf.Tensor, labels: tf.Tensor,
                      with_r1: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """D's logits on images, and the R1 penalty when asked for (else 0)."""
        if not with_r1:
            inputs = _inputs(images, labels, self.conditional)
            return self.discriminator(inputs, training=True), tf.constant(0.0)
        with tf.GradientTape() as tape:
            tape.watch(images)
            logits = self.discriminator(_inputs(images, labels, self.conditional),
                                        training=True)
            total = tf.reduce_sum(logits)
        gradients = tape.gradient(total, images)
        squared_norm = tf.reduce_sum(tf.square(gradients), axis=[1, 2, 3])
        weight = self.config.r1_gamma * 0.5 * self.config.r1_every
        return logits, weight * tf.reduce_mean(squared_norm)

    def _replica_step(self, images: tf.Tensor, labels: tf.Tensor,
                      with_r1: bool) -> dict[str, tf.Tensor]:
        """One simultaneous G and D update on this replica's share of the batch."""
        replicas = tf.cast(self.strategy.num_replicas_in_sync, tf.float32)
        batch = tf.shape(images)[0]
        latents = self.rng.normal((batch, LATENT_DIM))

        # Forward pass: the same augmentation policy on real and fake images.
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fakes = self.generator(_inputs(latents, labels, self.conditional),
                                   training=True)
            real_logits, r1 = self._discriminate(self._augment(images), labels, with_r1)
            fake_logits = self.discriminator(
                _inputs(self._augment(fakes), labels, self.conditional), training=True
            )
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logits)
                                    + tf.nn.softplus(fake_logits)) + r1
            g_loss = tf.reduce_mean(tf.nn.softplus(-fake_logits))
            d_scaled = self._scale(self.d_optimizer, d_loss / replicas)
            g_scaled = self._scale(self.g_optimizer, g_loss / replicas)

        # Gradients; apply them only when everything is finite on every replica.
        d_vars = self.discriminator.trainable_variables
        g_vars = self.generator.trainable_variables
        d_grads = d_tape.gradient(d_scaled, d_vars)
        g_grads = g_tape.gradient(g_scaled, g_vars)
        finite = self._all_finite([d_loss, g_loss], d_grads + g_grads)
        context = tf.distribute.get_replica_context()
        failures = context.all_reduce(tf.distribute.ReduceOp.SUM, 1.0 - finite)
        finite = tf.cast(failures < 0.5, tf.float32)

        def apply() -> tf.Tensor:
            self.d_optimizer.apply_gradients(zip(d_grads, d_vars))
            self.g_optimizer.apply_gradients(zip(g_grads, g_vars))
            return tf.constant(True)

        # Several replicas cannot synchronise inside tf.cond, so there the step is
        # applied and the training loop's rollback to the last checkpoint discards it.
        if self.strategy.num_replicas_in_sync > 1:
            apply()
        else:
            tf.cond(finite > 0.5, apply, lambda: tf.constant(False))
        return {
            "d_loss": d_loss, "g_loss": g_loss, "r1": r1, "finite": finite,
            "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
            "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits)),
            "real_sign": tf.reduce_mean(tf.sign(real_logits)),
        }

    def _scale(self, optimizer: keras.optimizers.Optimizer,
               loss: tf.Tensor) -> tf.Tensor:
        if self.config.mixed_precision:
            return optimizer.scale_loss(loss)
        return loss

    def _all_finite(self, losses: list[tf.Tensor], grads: list[tf.Tensor]) -> tf.Tensor:
        """1.0 when losses (and, without loss scaling, gradients) are finite."""
        checks = [tf.reduce_all(tf.math.is_finite(loss)) for loss in losses]
        if not self.config.mixed_precision:
            checks.append(tf.math.is_finite(tf.linalg.global_norm(grads)))
        return tf.cast(tf.reduce_all(tf.stack(checks)), tf.float32)

    def update_ema(self) -> None:
        """Move the averaged generator toward the current one; copy batch-norm stats."""
        step = tf.cast(self.step, tf.float32)
        decay = tf.minimum(self.config.ema_decay, (1.0 + step) / (EMA_RAMP + step))
        for average, current in zip(self.generator_ema.trainable_variables,
                                    self.generator.trainable_variables):
            average.assign(current + decay * (average - current))
        for average, current in zip(self.generator_ema.non_trainable_variables,
                                    self.generator.non_trainable_variables):
            average.assign(current)

    def copy_to_ema(self) -> None:
        """Make the averaged generator equal to the current one (runs without EMA)."""
        for average, current in zip(self.generator_ema.variables,
                                    self.generator.variables):
            average.assign(current)

    def _update_augment_p(self, real_sign: tf.Tensor, batch: int) -> None:
        """ADA: raise p when D is too sure of reals (mean sign above target)."""
        direction = tf.sign(real_sign - self.config.ada_target)
        change = direction * batch / self.config.ada_speed_images
        self.augment_p.assign(tf.clip_by_value(self.augment_p + change, 0.0, 1.0))

    def make_train_step(self, with_r1: bool) -> tf.types.experimental.PolyFunction:
        """A compiled function: one distributed step, EMA and ADA updates, metrics."""
        mean = tf.distribute.ReduceOp.MEAN

        def train_step(images: tf.Tensor, labels: tf.Tensor) -> dict[str, tf.Tensor]:
            per_replica = self.strategy.run(self._replica_step,
                                            args=(images, labels, with_r1))
            metrics = {name: self.strategy.reduce(mean, value, axis=None)
                       for name, value in per_replica.items()}
            applied = metrics["finite"] > 0.5
            if self.config.ema:
                tf.cond(applied, lambda: self.update_ema() or tf.constant(True),
                        lambda: tf.constant(False))
            if self.config.ada_target > 0 and self.policy:
                self._update_augment_p(metrics["real_sign"], self.config.batch_size)
            self.step.assign_add(tf.cast(applied, tf.int64))
            metrics["augment_p"] = tf.identity(self.augment_p)
            return metrics

        return tf.function(train_step, jit_compile=self.config.jit_compile)
