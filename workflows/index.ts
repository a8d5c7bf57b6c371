/** Every workflow the Talon worker registers. */
export { remediateAlert } from './remediate-alert';
export { nodeOverload } from './node-overload';
export { deployTask } from './deploy-task';
export { alertIntake } from './alert-intake';
export { pricingContract } from './contract';
export { offloadRelease } from './offload-release';
export { predictiveWatch } from './predictive-watch';
