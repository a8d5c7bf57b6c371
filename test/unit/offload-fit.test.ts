/** Room by requests for an offload destination: what a pod requests as the scheduler counts it, and the verdict. */
import type { NodeInfo } from '../../src/domain/offload-target';
import { noRoom, podRequests } from '../../src/kube/actuator/offload-fit';

const GiB = 2 ** 30;
const node: NodeInfo = {
  name: 'cloud-1',
  labels: {},
  taints: [],
  unschedulable: false,
  ready: true,
  allocatable: { cpuCores: 4, memoryBytes: 8 * GiB },
};

describe('podRequests', () => {
  it("sums the containers' requests, or takes the largest init container when that is more", () => {
    expect(
      podRequests({
        containers: [
          { name: 'a', resources: { requests: { cpu: '250m', memory: '256Mi' } } },
          { name: 'b', resources: { requests: { cpu: '1' } } },
          { name: 'c' },
        ],
        initContainers: [{ name: 'init', resources: { requests: { cpu: '2', memory: '64Mi' } } }],
      }),
    ).toEqual({ cpuCores: 2, memoryBytes: 256 * 2 ** 20 });
    expect(podRequests(undefined)).toEqual({ cpuCores: 0, memoryBytes: 0 });
  });
});

describe('noRoom', () => {
  it('lets pods in while their requests fit beside what is requested already', () => {
    expect(noRoom(node, { cpuCores: 3, memoryBytes: 4 * GiB }, { cpuCores: 0.5, memoryBytes: GiB }, 2)).toBeUndefined();
  });

  it('says which resource is short, by how much', () => {
    expect(noRoom(node, { cpuCores: 3.5, memoryBytes: 4 * GiB }, { cpuCores: 0.5, memoryBytes: GiB }, 2)).toBe(
      'no room by requests (CPU: 2 × 0.500 requested, 0.500 free)',
    );
    expect(noRoom(node, { cpuCores: 5, memoryBytes: 8 * GiB }, { cpuCores: 0.1, memoryBytes: GiB }, 1)).toBe(
      'no room by requests (CPU: 1 × 0.100 requested, 0.000 free; memory: 1 × 1024Mi requested, 0Mi free)',
    );
  });
});
