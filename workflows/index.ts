/** Every workflow the Talon worker registers. */
export { remediateAlert } from './remediate-alert';
