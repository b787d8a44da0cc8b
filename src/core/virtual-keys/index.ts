export {
  generateVirtualKey,
  hashVirtualKey,
  isVirtualKeyHash,
  looksLikeVirtualKey,
  sameHash,
  virtualKeyLength,
  virtualKeyPrefixLength,
  virtualKeyScheme,
  type NewVirtualKey,
} from './virtual-key.js'
