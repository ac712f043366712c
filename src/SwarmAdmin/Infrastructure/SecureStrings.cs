using System;
using System.Runtime.InteropServices;
using System.Security;
using System.Text;

namespace SwarmAdmin.Infrastructure
{
    /// <summary>
    /// Short-lived plain access to a SecureString (API tokens, passwords, secret contents, unlock keys): the caller uses
    /// the result at once and never keeps, logs or puts it on a command line; byte results are cleared by the caller.
    /// </summary>
    internal static class SecureStrings
    {
        public static string ToPlain(SecureString secure)
        {
            if (secure == null) return null;
            IntPtr ptr = IntPtr.Zero;
            try
            {
                ptr = Marshal.SecureStringToGlobalAllocUnicode(secure);
                return Marshal.PtrToStringUni(ptr, secure.Length);
            }
            finally
            {
                if (ptr != IntPtr.Zero) Marshal.ZeroFreeGlobalAllocUnicode(ptr);
            }
        }

        /// <summary>The UTF-8 bytes, through a char buffer that is cleared at once.</summary>
        public static byte[] ToUtf8(SecureString secure)
        {
            IntPtr ptr = IntPtr.Zero;
            char[] chars = null;
            try
            {
                ptr = Marshal.SecureStringToGlobalAllocUnicode(secure);
                chars = new char[secure.Length];
                Marshal.Copy(ptr, chars, 0, chars.Length);
                return Encoding.UTF8.GetBytes(chars);
            }
            finally
            {
                if (chars != null) Array.Clear(chars, 0, chars.Length);
                if (ptr != IntPtr.Zero) Marshal.ZeroFreeGlobalAllocUnicode(ptr);
            }
        }

        public static SecureString FromPlain(string plain)
        {
            var s = new SecureString();
            if (plain != null) foreach (char c in plain) s.AppendChar(c);
            s.MakeReadOnly();
            return s;
        }
    }
}
