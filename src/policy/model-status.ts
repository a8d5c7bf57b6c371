/** Which engine answers decisions: the loaded model, or the rules and why the model could not. */
export type ModelStatus =
  | { readonly path: string; readonly loaded: true; readonly version: string }
  | { readonly path: string; readonly loaded: false; readonly reason: string };
