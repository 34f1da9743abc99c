/** Rooflines: what a model's prefill and decode must do (./work), the floors a calibrated GPU puts under them and the
 *  bound (./floors), the bound along L from the config (./outlook), and all of it in words (./words). Pure. */
export * from './work';
export * from './floors';
export * from './outlook';
export * from './words';
