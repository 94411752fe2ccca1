// The one file whose namespace is not its folder's: the compiler looks for this type by its full name, and
// netstandard2.0 lacks it. Declaring it lets the wire models be records (init accessors).
namespace System.Runtime.CompilerServices
{
    internal static class IsExternalInit { }
}
